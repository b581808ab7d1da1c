namespace Portal.Domain.Statistics;

/// <summary>
/// The limiting distribution of sqrt(n)·D_n (Kolmogorov 1933), used for large-sample KS p-values.
/// </summary>
public static class KolmogorovDistribution
{
    // Below this argument the alternating series converges slowly while the Jacobi-theta form converges
    // in a few terms; the split is the one used by Numerical Recipes (3rd ed., §6.14).
    private const double SeriesSwitch = 1.18;

    /// <summary>
    /// Q_KS(λ) = P(K &gt; λ) = 2 Σ_{k≥1} (−1)^(k−1) exp(−2k²λ²).
    /// </summary>
    public static double Survival(double lambda)
    {
        if (double.IsNaN(lambda))
        {
            throw new ArgumentOutOfRangeException(nameof(lambda), "lambda must not be NaN.");
        }

        if (lambda <= 0)
        {
            return 1.0;
        }

        if (lambda < SeriesSwitch)
        {
            // P(K ≤ λ) = sqrt(2π)/λ · Σ_{k≥1} exp(−(2k−1)²π²/(8λ²)).
            double factor = -Math.PI * Math.PI / (8 * lambda * lambda);
            double sum = 0;
            for (int k = 1; ; k++)
            {
                double odd = 2 * k - 1;
                double term = Math.Exp(odd * odd * factor);
                sum += term;
                if (term <= sum * 1e-17)
                {
                    break;
                }
            }

            double cdf = Math.Sqrt(2 * Math.PI) / lambda * sum;
            return Math.Clamp(1.0 - cdf, 0.0, 1.0);
        }

        double survival = 0;
        double sign = 1;
        double twoLambdaSquared = 2 * lambda * lambda;
        for (int k = 1; ; k++)
        {
            double term = Math.Exp(-twoLambdaSquared * k * k);
            survival += sign * term;
            if (term <= Math.Abs(survival) * 1e-17 || term == 0)
            {
                break;
            }

            sign = -sign;
        }

        return Math.Clamp(2 * survival, 0.0, 1.0);
    }
}
