using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.KeyManagement.Internal;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Portal.Features.Identity;
using Portal.Tests.Infrastructure;

namespace Portal.Tests.Features.Identity;

/// <summary>
/// Instances started together on a fresh database must agree on one data-protection key: with one each, once past the
/// two minutes in which Data Protection re-reads the ring for an unknown key, an instance can refuse the others' live
/// events as forged (a security event each) and their session cookies until its key ring next refreshes, a day later.
/// </summary>
public sealed class SharedKeyRingTests
{
    [Fact]
    public async Task Two_instances_starting_at_the_same_moment_on_an_empty_key_table_make_one_key_and_read_each_others_payloads()
    {
        var (connectionString, _) = await (await TestServices.GetAsync()).CreateDatabaseAsync();
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        // Each instance stores the key it makes only once the other has also looked at the keys, or is waiting for
        // its turn to: the worst interleaving, made certain.
        var looked = new[] { new TaskCompletionSource(), new TaskCompletionSource() };
        await using var first = Instance(0);
        await using var second = Instance(1);

        await Task.WhenAll(
            Task.Run(() => SharedKeyRing.EnsureAsync(dataSource, first.GetRequiredService<IDataProtectionProvider>(), CancellationToken.None)),
            Task.Run(() => SharedKeyRing.EnsureAsync(dataSource, second.GetRequiredService<IDataProtectionProvider>(), CancellationToken.None)));

        // Both seal with the same key; with two, each would seal with its own.
        Assert.Equal(first.GetRequiredService<IKeyRingProvider>().GetCurrentKeyRing().DefaultKeyId,
            second.GetRequiredService<IKeyRingProvider>().GetCurrentKeyRing().DefaultKeyId);
        Assert.Equal(1, await OrderRequests.ScalarAsync(connectionString, "select count(*) from data_protection_keys"));
        var sealedByFirst = first.GetDataProtector("test").Protect("from the first");
        var sealedBySecond = second.GetDataProtector("test").Protect("from the second");
        Assert.Equal("from the first", second.GetDataProtector("test").Unprotect(sealedByFirst));
        Assert.Equal("from the second", first.GetDataProtector("test").Unprotect(sealedBySecond));

        ServiceProvider Instance(int index)
        {
            var services = new ServiceCollection().AddLogging();
            services.AddDataProtection().SetApplicationName("Portal");
            var repository = new GatedRepository(new PostgresXmlRepository(dataSource), looked[index],
                () => OtherHasLookedOrWaitsForItsTurnAsync(looked[1 - index].Task));
            services.Configure<KeyManagementOptions>(o => o.XmlRepository = repository);
            return services.BuildServiceProvider();
        }

        async Task OtherHasLookedOrWaitsForItsTurnAsync(Task otherLooked) =>
            await Poll.UntilAsync(async () => otherLooked.IsCompleted
                || await OrderRequests.ScalarAsync(connectionString, "select count(*) from pg_locks where locktype = 'advisory' and not granted") > 0,
                "the other instance has read the keys or waits for the lock", TimeSpan.FromSeconds(60));
    }

    private sealed class GatedRepository(IXmlRepository inner, TaskCompletionSource looked, Func<Task> beforeStoring) : IXmlRepository
    {
        public IReadOnlyCollection<XElement> GetAllElements()
        {
            var elements = inner.GetAllElements();
            looked.TrySetResult();
            return elements;
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            beforeStoring().GetAwaiter().GetResult();
            inner.StoreElement(element, friendlyName);
        }
    }
}
