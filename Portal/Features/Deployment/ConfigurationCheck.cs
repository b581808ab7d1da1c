using Microsoft.Extensions.Options;

namespace Portal.Features.Deployment;

/// <summary>
/// <c>check-config</c>: every start-up validation of the server's options, without starting it or connecting to
/// anything, so a deployment's environment can be checked where it is written (.ci/run checks docker-compose.yml's).
/// </summary>
public static class ConfigurationCheck
{
    public const string Verb = "check-config";

    public static int Run(IServiceProvider services, TextWriter output, TextWriter error)
    {
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (Exception ex) when (Failures(ex) is { Count: > 0 } failures)
        {
            foreach (var failure in failures) error.WriteLine("Invalid configuration: " + failure);
            return 3;
        }
        output.WriteLine("Configuration valid.");
        return 0;
    }

    private static List<string> Failures(Exception ex) => ex switch
    {
        OptionsValidationException options => [.. options.Failures],
        AggregateException many => [.. many.InnerExceptions.SelectMany(Failures)],
        _ => [],
    };
}
