namespace Portal.Domain.Statistics;

/// <summary>How the p-value of a Kolmogorov–Smirnov test was obtained.</summary>
public enum KsMethod
{
    /// <summary>Exact permutation distribution of D (lattice-path enumeration).</summary>
    Exact,

    /// <summary>Limiting Kolmogorov distribution with Stephens' small-sample correction.</summary>
    Asymptotic,
}

/// <summary>Two-sided two-sample Kolmogorov–Smirnov result.</summary>
/// <param name="D">Largest absolute difference between the two empirical CDFs, in [0, 1].</param>
/// <param name="PValue">Probability under H0 (same continuous distribution) of a D at least this large.</param>
/// <param name="Method">How <paramref name="PValue"/> was computed.</param>
public readonly record struct KsResult(double D, double PValue, KsMethod Method);
