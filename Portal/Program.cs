using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Portal.Components;
using Portal.Features.ApiDocs;
using Portal.Features.Admin;
using Portal.Features.Audit;
using Portal.Features.Auth;
using Portal.Features.Broker;
using Portal.Features.Cli;
using Portal.Features.Demo;
using Portal.Features.Deployment;
using Portal.Features.Halt;
using Portal.Features.Health;
using Portal.Features.Identity;
using Portal.Features.Limits;
using Portal.Features.Live;
using Portal.Features.MarketData;
using Portal.Features.ModelDrift;
using Portal.Features.Observability;
using Portal.Features.Orders;
using Portal.Features.Readiness;
using Portal.Features.Witness;
using Portal.Infrastructure.Postgres;
using Portal.Infrastructure.Redis;
using Portal.Jobs;
using Prometheus;

if (CliCommands.IsVerb(args)) return await CliCommands.RunAsync(args);
if (args.FirstOrDefault() == WitnessServer.Verb) return await WitnessServer.RunAsync(args[1..]);
if (args.FirstOrDefault() == DeploymentSecrets.Verb) return DeploymentSecrets.Run(args.SkipWhile(a => a != "--dir").Skip(1).FirstOrDefault(), Console.Out, Console.Error);
var checkConfiguration = args.FirstOrDefault() == ConfigurationCheck.Verb;

var builder = WebApplication.CreateBuilder(checkConfiguration ? args[1..] : args);
builder.AddPostgres();
builder.AddRedis();
builder.AddLiveEvents();
builder.AddPortalAuth();
builder.AddPortalIdentity();
builder.AddPortalAdministration();
builder.AddPortalJobs();
builder.AddAuditTrail();
builder.AddOrderGateway();
builder.AddMarketData();
builder.AddBroker();
builder.AddKillSwitch();
builder.AddModelDrift();
builder.AddReadiness();
builder.AddPortalHealth();
builder.AddPortalMetrics();
builder.AddApiDocs();
builder.AddDemo();
builder.AddPortalUi();
builder.Services.AddProblemDetails();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower)));

var app = builder.Build();
if (checkConfiguration) return ConfigurationCheck.Run(app.Services, Console.Out, Console.Error);
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseCookieApiWriteGuard();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();
app.UseHttpMetrics();
app.MapOrdersApi();
app.MapMarketDataApi();
app.MapLimitsApi();
app.MapEmergencyApi();
app.MapLiveEvents();
app.MapPortalIdentity();
app.MapAuditApi();
app.MapModelDriftApi();
app.MapReadinessApi();
app.MapJobsDashboard().RequireAuthorization(Policies.Admin);
app.MapPortalMetrics();
app.MapApiDocs();
app.MapPortalHealth();
app.MapPortalUi();

try
{
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    // Refuse to start on invalid configuration, naming every bad key.
    foreach (var failure in ex.Failures) Console.Error.WriteLine("Invalid configuration: " + failure);
    return 3;
}

/// <summary>Lets the test host find the entry point.</summary>
public partial class Program;
