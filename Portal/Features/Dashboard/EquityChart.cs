using System.Globalization;
using MudBlazor;

namespace Portal.Features.Dashboard;

/// <summary>The dashboard's in-memory samples of P&L and gross exposure, as line chart series (the newest <see cref="MaxSamples"/>).</summary>
public sealed class EquityChart
{
    public const int MaxSamples = 720;
    private const int LabelEvery = 12;
    private readonly List<(DateTimeOffset At, double Pnl, double Exposure)> _samples = [];

    public List<ChartSeries<double>> Series { get; private set; } = [];
    public string[] Labels { get; private set; } = [];

    public void Add(DateTimeOffset at, double pnl, double exposure)
    {
        _samples.Add((at, pnl, exposure));
        if (_samples.Count > MaxSamples) _samples.RemoveAt(0);
        Series =
        [
            new ChartSeries<double> { Name = "P&L", Data = _samples.Select(s => s.Pnl).ToArray() },
            new ChartSeries<double> { Name = "Gross exposure", Data = _samples.Select(s => s.Exposure).ToArray() },
        ];
        Labels = _samples.Select((s, i) => i % LabelEvery == 0 ? s.At.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture) : "").ToArray();
    }
}
