namespace Portal.Features.Audit;

/// <summary>
/// Turns page numbers into keyset reads for the audit list (newest first), so page N costs the same as page 1 over
/// millions of events. The list is anchored at the head seq of its last refresh, so new events do not shift pages
/// under the reader; each page read remembers where the next begins. Unfiltered pages are computed outright (seqs are
/// contiguous); a jump past the pages seen skips rows from the nearest known cursor.
/// </summary>
public sealed class AuditPager
{
    private readonly Dictionary<int, long> _upTo = [];
    private int _pageSize;

    public long Anchor { get; private set; }

    public void Reset(long anchor)
    {
        Anchor = anchor;
        _upTo.Clear();
        _pageSize = 0;
    }

    /// <summary>The newest seq the page may hold and how many matching rows below it to skip.</summary>
    public (long UpTo, int Skip) Locate(int page, int pageSize, bool filtered)
    {
        if (pageSize != _pageSize)
        {
            _upTo.Clear();
            _pageSize = pageSize;
        }
        if (!filtered) return (Anchor - (long)page * pageSize, 0);
        if (_upTo.TryGetValue(page, out var known)) return (known, 0);
        var nearest = _upTo.Keys.Where(k => k < page).DefaultIfEmpty(0).Max();
        var from = nearest == 0 ? Anchor : _upTo[nearest];
        return (from, (page - nearest) * pageSize);
    }

    /// <summary>Remembers where the page after <paramref name="page"/> starts.</summary>
    public void Record(int page, IReadOnlyList<AuditListItem> items)
    {
        if (items.Count > 0) _upTo[page + 1] = items[^1].Seq - 1;
    }
}
