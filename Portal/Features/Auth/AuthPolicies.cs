namespace Portal.Features.Auth;

public static class AuthPolicies
{
    /// <summary>Any authenticated caller: reading state that every client may see.</summary>
    public const string AnyCaller = "any-caller";
}
