using Cronos;

namespace Portal.Jobs;

/// <summary>Cron expressions as Hangfire reads them: five fields, or six with seconds first.</summary>
public static class JobSchedule
{
    /// <summary>Why <paramref name="cron"/> is not a valid schedule, or null when it is.</summary>
    public static string? Problem(string? cron)
    {
        if (string.IsNullOrWhiteSpace(cron)) return "is empty.";
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        try
        {
            CronExpression.Parse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
            return null;
        }
        catch (CronFormatException ex)
        {
            return $"is not a cron expression: {ex.Message}";
        }
    }
}
