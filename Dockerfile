# Portal: build with the SDK image, run on the ASP.NET runtime image as a non-root user.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props Portal.sln ./
COPY Portal.Domain/Portal.Domain.csproj Portal.Domain/packages.lock.json Portal.Domain/
COPY Portal.Jobs/Portal.Jobs.csproj Portal.Jobs/packages.lock.json Portal.Jobs/
COPY Portal/Portal.csproj Portal/packages.lock.json Portal/
RUN dotnet restore Portal/Portal.csproj --locked-mode
COPY Portal.Domain/ Portal.Domain/
COPY Portal.Jobs/ Portal.Jobs/
COPY Portal/ Portal/
COPY migrations/ migrations/
COPY docs/ docs/
RUN dotnet publish Portal/Portal.csproj -c Release -o /app --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
# Named volumes start as a copy of these directories, owner included: the app user must write keys, checkpoints, state.
RUN mkdir -p /var/lib/portal/secrets /var/lib/portal/audit /var/lib/witness && chown -R app:app /var/lib/portal /var/lib/witness
USER app
ENV ASPNETCORE_URLS=http://0.0.0.0:8080 ASPNETCORE_ENVIRONMENT=Production
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["dotnet", "Portal.dll", "healthcheck"]
ENTRYPOINT ["dotnet", "Portal.dll"]
