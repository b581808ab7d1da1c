using System.Globalization;

namespace Portal.Scenarios;

/// <summary>The printed report: figures, and expectations each marked OK or FAIL. Any FAIL makes the exit code 1.</summary>
public sealed class Report(TextWriter output)
{
    private readonly List<string> _failures = [];

    public IReadOnlyList<string> Failures => _failures;

    public void Section(string title) => output.WriteLine($"\n== {title}");

    public void Line(string text) => output.WriteLine("   " + text);

    public bool Expect(bool ok, string what)
    {
        lock (_failures)
        {
            output.WriteLine($"   {(ok ? "OK  " : "FAIL")} {what}");
            if (!ok) _failures.Add(what);
        }
        return ok;
    }

    public static string Ms(double milliseconds) => milliseconds.ToString("F1", CultureInfo.InvariantCulture) + " ms";

    public static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    public static string Distribution(List<double> values)
    {
        if (values.Count == 0) return "no samples";
        values.Sort();
        return $"p50 {Ms(Percentile(values, 0.50))}  p99 {Ms(Percentile(values, 0.99))}  max {Ms(values[^1])}  (n={values.Count})";
    }
}
