using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Portal.Features.Identity;
using Scalar.AspNetCore;

namespace Portal.Features.ApiDocs;

/// <summary>
/// The machine API described as OpenAPI (<c>/openapi/v1.json</c>, only <c>/api/*</c>) and browsable at
/// <c>/api-reference</c>. Both are for any API key or staff member: the document says which scope or
/// role each operation needs, and how to send the key (<c>Authorization: Bearer</c>).
/// </summary>
public static class ApiDocsSetup
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/{documentName}.json";
    public const string ReferencePath = "/api-reference";
    public const string SecuritySchemeName = "ApiKey";

    public static IHostApplicationBuilder AddApiDocs(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(DocumentName, o =>
        {
            o.ShouldInclude = description => description.RelativePath?.StartsWith("api/", StringComparison.Ordinal) == true;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Portal machine API",
                    Version = DocumentName,
                    Description = "Orders, limits, emergency stop and audit for automated strategies. Every error is RFC 7807 problem details; "
                                  + "a 400 names each bad field under `errors`. See README.md and docs/risk-limits.md.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[SecuritySchemeName] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "An API key created with `dotnet Portal.dll create-api-key --name NAME --scopes orders[,ticks,observations,halt,flatten,limits,audit] --owner EMAIL|none`, "
                                  + "sent as `Authorization: Bearer pk_...`. Missing, unknown or revoked: 401; without the operation's scope: 403.",
                };
                return Task.CompletedTask;
            });
            o.AddOperationTransformer((operation, context, _) =>
            {
                var metadata = context.Description.ActionDescriptor.EndpointMetadata;
                if (metadata.OfType<IAllowAnonymous>().Any()) return Task.CompletedTask;
                var policies = metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().Distinct().ToList();
                if (policies.Count == 0) return Task.CompletedTask;
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, context.Document)] = [] });
                // Policy names read as the alternatives they admit, e.g. "scope:halt | role:CanHalt".
                operation.Description = (operation.Description is { Length: > 0 } d ? d + "\n\n" : "")
                                        + "Who may call: `" + string.Join(" and ", policies.Select(p => p.Replace("|", " | ", StringComparison.Ordinal))) + "`.";
                return Task.CompletedTask;
            });
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapApiDocs(this IEndpointRouteBuilder app)
    {
        app.MapOpenApi(DocumentPath).RequireAuthorization(Policies.AnyCaller);
        app.MapScalarApiReference(ReferencePath, o => o
                .WithTitle("Portal machine API")
                .WithOpenApiRoutePattern(DocumentPath)
                .AddPreferredSecuritySchemes(SecuritySchemeName)
                // The page must work without internet access and send nothing outside: no CDN fonts, telemetry or AI agent.
                .DisableDefaultFonts()
                .DisableTelemetry()
                .DisableAgent()
                .HideDeveloperTools())
            .RequireAuthorization(Policies.AnyCaller);
        return app;
    }
}
