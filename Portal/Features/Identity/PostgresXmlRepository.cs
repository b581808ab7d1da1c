using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Npgsql;

namespace Portal.Features.Identity;

/// <summary>
/// Keeps the Data Protection key ring (which encrypts sign-in cookies and antiforgery tokens) in
/// PostgreSQL, so every Portal instance reads the same keys and a restart signs nobody out.
/// Keys are stored as Data Protection writes them; the database's own access control protects them.
/// </summary>
public sealed class PostgresXmlRepository(NpgsqlDataSource dataSource) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = dataSource.CreateCommand("select xml from data_protection_keys order by created_at, friendly_name");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read()) elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = dataSource.CreateCommand(
            "insert into data_protection_keys (friendly_name, xml, created_at) values ($1, $2, now()) on conflict (friendly_name) do nothing");
        command.Parameters.AddWithValue(friendlyName);
        command.Parameters.AddWithValue(element.ToString(SaveOptions.DisableFormatting));
        command.ExecuteNonQuery();
    }
}
