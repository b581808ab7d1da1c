using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using System.Text;
using Microsoft.Extensions.Options;
using Portal.Domain.Audit;

using Portal.Features.Deployment;

namespace Portal.Features.Witness;

/// <summary>
/// <c>dotnet Portal.dll witness</c>: a process apart from Portal, with its own key and storage, that cosigns the
/// audit log's checkpoints under the c2sp.org/tlog-witness rules (<see cref="CheckpointWitness"/>). Whoever takes
/// Portal's database and its signing key can rewrite the log and sign it again, but cannot make the witness cosign
/// that, nor erase what it already cosigned: verification reads the witness's copies back (docs/audit-trail.md).
/// </summary>
public static class WitnessServer
{
    public const string Verb = "witness";
    private const int MaxBodyBytes = 64 * 1024;
    /// <summary>The most cosigned checkpoints one <c>GET /cosigned</c> answers with.</summary>
    public const int MaxPage = 1000;

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddOptions<WitnessOptions>().BindConfiguration(WitnessOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<WitnessOptions>, WitnessOptionsValidator>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<WitnessOptions>>().Value;
            var logs = options.Logs.ToDictionary(l => l.Origin!, l => CheckpointVerifier.FromPublicKeyPem(l.ReadPublicKeyPem()));
            return new CheckpointWitness(options.Name, CheckpointSigner.FromPrivateKeyPem(File.ReadAllText(options.SigningKeyPath!)), logs);
        });
        builder.Services.AddSingleton(sp => new WitnessLedger(sp.GetRequiredService<IOptions<WitnessOptions>>().Value.StateFile!,
            sp.GetRequiredService<ILogger<WitnessLedger>>()));
        var app = builder.Build();
        app.MapWitnessApi();
        return app;
    }

    /// <summary>Serves the witness, or with <c>check-config</c> first only validates its configuration.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.FirstOrDefault() == ConfigurationCheck.Verb) return ConfigurationCheck.Run(Build(args[1..]).Services, Console.Out, Console.Error);
        try
        {
            await Build(args).RunAsync();
            return 0;
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures) Console.Error.WriteLine("Invalid configuration: " + failure);
            return 3;
        }
    }

    /// <summary>
    /// <c>POST /add-checkpoint</c> (c2sp.org/tlog-witness: 200 with the cosignature line, 409 with the size it has,
    /// 422 for a proof that fails, 403 for a bad log signature, 404 for an unknown log); <c>GET /cosigned?origin=&amp;after=&amp;limit=</c>,
    /// what it cosigned for a log above tree size <c>after</c> (default 0), at most <c>limit</c> (1..<see cref="MaxPage"/>,
    /// default <see cref="MaxPage"/>), smallest first, which verification reads page by page and compares with the log:
    /// the history grows for as long as the log lives, so no one answer holds all of it; <c>GET /public-key</c>.
    /// None needs a credential: what it accepts is bound by the log's signature and the proof, what it returns is public.
    /// </summary>
    public static IEndpointRouteBuilder MapWitnessApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/add-checkpoint", AddCheckpointAsync);
        app.MapGet("/cosigned", Cosigned);
        app.MapGet("/public-key", (IOptions<WitnessOptions> options) =>
        {
            using var key = CheckpointSigner.FromPrivateKeyPem(File.ReadAllText(options.Value.SigningKeyPath!));
            return TypedResults.Text(key.ExportPublicKeyPem(), "application/x-pem-file");
        });
        app.MapGet("/health/live", () => TypedResults.Text("ok"));
        return app;
    }

    private static IResult Cosigned(HttpRequest http, WitnessLedger ledger)
    {
        // Read by hand so that a malformed number is the same problem as an out-of-range one, naming the field.
        var query = http.Query;
        if (query["origin"].ToString() is not { Length: > 0 } origin) return Invalid("origin", "The log's origin is required.");
        var after = 0L;
        if (query.ContainsKey("after") && !long.TryParse(query["after"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out after))
            return Invalid("after", "A tree size, 0 or more.");
        var limit = MaxPage;
        if (query.ContainsKey("limit") && (!int.TryParse(query["limit"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPage))
            return Invalid("limit", $"From 1 to {MaxPage}.");
        return TypedResults.Ok(ledger.Cosigned(origin, after, limit));
    }

    private static ValidationProblem Invalid(string field, string error) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [error] }, title: "Invalid cosigned query");

    private static async Task<IResult> AddCheckpointAsync(HttpRequest http, CheckpointWitness witness, WitnessLedger ledger, TimeProvider clock, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(WitnessServer));
        if (http.ContentLength is > MaxBodyBytes) return Text(413, "The request is larger than a checkpoint and its proof can be.");
        using var reader = new StreamReader(http.Body, Encoding.UTF8);
        var buffer = new char[MaxBodyBytes + 1];
        var length = await reader.ReadBlockAsync(buffer, http.HttpContext.RequestAborted);
        if (length > MaxBodyBytes) return Text(413, "The request is larger than a checkpoint and its proof can be.");
        var request = AddCheckpointRequest.Parse(new string(buffer, 0, length));
        if (request is null) return Text(400, "The body is not 'old <size>', the proof lines, an empty line and a checkpoint note.");
        var decision = ledger.Add(witness, request, clock.GetUtcNow());
        if (decision.Cosigned)
        {
            logger.LogInformation("Cosigned {Origin} at tree size {Size}", decision.Checkpoint!.Origin, decision.Checkpoint.Seq);
            return TypedResults.Text($"\u2014 {witness.Name} {decision.Cosignature}\n", "text/plain; charset=utf-8");
        }
        logger.LogWarning("Refused a checkpoint ({Status}): {Detail}", decision.Status, decision.Detail);
        return decision.Status == 409
            ? TypedResults.Text($"{decision.LatestSize}\n", "text/x.tlog.size", statusCode: 409)
            : Text(decision.Status, decision.Detail);
    }

    private static IResult Text(int status, string detail) => TypedResults.Text(detail + "\n", "text/plain; charset=utf-8", statusCode: status);
}
