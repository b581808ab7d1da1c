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

    /// <summary><c>verify-audit-export FILE --manifest MANIFEST --public-key KEY</c>: prints OK or the first bad line; exit 1 on failure.</summary>
    public static int VerifyExportFile(string[] args, TextWriter output, TextWriter error)
    {
        string? file = null, manifest = null, publicKey = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--manifest" when i + 1 < args.Length: manifest = args[++i]; break;
                case "--public-key" when i + 1 < args.Length: publicKey = args[++i]; break;
                default: file ??= args[i].StartsWith("--", StringComparison.Ordinal) ? null : args[i]; break;
            }
        }
        if (file is null || manifest is null || publicKey is null)
            return Usage(error, VerifyExport + " FILE --manifest MANIFEST --public-key KEY");
        foreach (var path in new[] { file, manifest, publicKey })
            if (!File.Exists(path))
            {
                error.WriteLine($"{path} does not exist.");
                return 2;
            }

        ExportVerificationResult result;
        try
        {
            using var lines = new StreamReader(file, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16);
            result = AuditExportVerifier.Verify(lines, File.ReadAllText(manifest), File.ReadAllText(publicKey));
        }
        catch (ArgumentException ex)
        {
            error.WriteLine($"FAILED: the public key cannot be read: {ex.Message}");
            return 1;
        }
        if (!result.Ok)
        {
            output.WriteLine(result.FirstBadLine is { } line ? $"FAILED at line {line}: {result.Problem}" : $"FAILED: {result.Problem}");
            return 1;
        }
        output.WriteLine($"OK: {result.LinesVerified} lines, {result.CheckpointsVerified} signed checkpoint(s) verified.");
        if (result.CheckpointsVerified == 0 && result.LinesVerified > 0)
            output.WriteLine("Warning: no signed checkpoint falls inside this export, so nothing ties it to the real chain; export a range that ends at a checkpoint.");
        return 0;
    }

    private static int Usage(TextWriter error, string text)
    {
        error.WriteLine("usage: dotnet Portal.dll " + text);
        return 2;
    }
}
