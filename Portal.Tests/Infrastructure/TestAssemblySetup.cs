using System.Runtime.CompilerServices;

namespace Portal.Tests.Infrastructure;

internal static class TestAssemblySetup
{
    /// <summary>
    /// Many Portal hosts start in parallel in one test process on 2 cores; without a few spare pool
    /// threads their start-up work queues behind each other and Redis calls time out spuriously.
    /// </summary>
    [ModuleInitializer]
    internal static void RaiseThreadPoolMinimum() => ThreadPool.SetMinThreads(32, 32);
}
