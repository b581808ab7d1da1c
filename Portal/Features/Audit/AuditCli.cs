using Portal.Domain.Audit;

namespace Portal.Features.Audit;

/// <summary>Audit verbs that need no database: key generation and the offline export verifier.</summary>
public static class AuditCli
{
    public const string GenerateKey = "generate-audit-key";
    public const string VerifyExport = "verify-audit-export";

    /// <summary><c>generate-audit-key --out FILE</c>: a new P-256 private key (PKCS#8 PEM, mode 0600); never overwrites.</summary>
    public static int GenerateKeyFile(string? path, TextWriter output, TextWriter error)
    {
        if (path is null) return Usage(error, GenerateKey + " --out FILE");
        if (File.Exists(path))
        {
            error.WriteLine($"{path} exists; not overwritten (a new key cannot verify the old checkpoints).");
            return 1;
        }
        using var signer = CheckpointSigner.Generate();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var file = new StreamWriter(path, System.Text.Encoding.ASCII, options))
            file.Write(signer.ExportPrivateKeyPem());
        output.WriteLine($"Audit signing key {signer.KeyId} written to {path}. Its public key (publish it; verifiers need it):");
        output.WriteLine(signer.ExportPublicKeyPem());
        return 0;
    }

    /// <summary>
    /// <c>verify-audit-export FILE --manifest MANIFEST --public-key KEY [--public-key OLDER_KEY ...] [--allow-unauthenticated-tail]</c>:
    /// prints OK or the first problem; exit 1 on failure. Every key the log has used may be given; the manifest and
    /// the checkpoints must be signed by one of them.
    /// </summary>
    public static int VerifyExportFile(string[] args, TextWriter output, TextWriter error)
    {
        string? file = null, manifest = null;
        var publicKeys = new List<string>();
        var allowUnauthenticatedTail = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--manifest" when i + 1 < args.Length: manifest = args[++i]; break;
                case "--public-key" when i + 1 < args.Length: publicKeys.Add(args[++i]); break;
                case "--allow-unauthenticated-tail": allowUnauthenticatedTail = true; break;
                default: file ??= args[i].StartsWith("--", StringComparison.Ordinal) ? null : args[i]; break;
            }
        }
        if (file is null || manifest is null || publicKeys.Count == 0)
            return Usage(error, VerifyExport + " FILE --manifest MANIFEST --public-key KEY [--public-key OLDER_KEY ...] [--allow-unauthenticated-tail]");
        foreach (var path in publicKeys.Append(file).Append(manifest))
            if (!File.Exists(path))
            {
                error.WriteLine($"{path} does not exist.");
                return 2;
            }

        ExportVerificationResult result;
        try
        {
            using var lines = new StreamReader(file, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
            result = AuditExportVerifier.Verify(lines, File.ReadAllText(manifest), publicKeys.ConvertAll(File.ReadAllText), allowUnauthenticatedTail);
        }
        catch (ArgumentException ex)
        {
            error.WriteLine($"FAILED: a public key cannot be read: {ex.Message}");
            return 1;
        }
        if (!result.Ok)
        {
            output.WriteLine(result.FirstBadLine is { } line ? $"FAILED at line {line}: {result.Problem}" : $"FAILED: {result.Problem}");
            return 1;
        }
        output.WriteLine($"OK: {result.LinesVerified} lines, {result.CheckpointsVerified} signed checkpoint(s) verified.");
        if (result.UnauthenticatedFrom is { } from)
            output.WriteLine($"Warning: seqs {from}..{result.UnauthenticatedTo} are not covered by a signed checkpoint; nothing ties them to the real chain.");
        return 0;
    }

    private static int Usage(TextWriter error, string text)
    {
        error.WriteLine("usage: dotnet Portal.dll " + text);
        return 2;
    }
}
