// Downloads an audit export through the signed-in session, reporting lines received as they stream in, then hands
// the file to the browser to save. The export API's own headers name the file and the seq range it covers.
export async function download(url, fallbackName, progress) {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (!response.ok) {
        const text = await response.text();
        let detail = text;
        try { const problem = JSON.parse(text); detail = problem.detail || problem.title || text; } catch { /* not problem details */ }
        throw new Error(`${response.status}: ${detail}`);
    }
    const disposition = response.headers.get('Content-Disposition') || '';
    const named = /filename="?([^";]+)"?/.exec(disposition);
    const fileName = named ? named[1] : fallbackName;
    const reader = response.body.getReader();
    const chunks = [];
    let lines = 0, bytes = 0, reported = 0;
    for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        bytes += value.length;
        for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++;
        const now = performance.now();
        if (progress && now - reported > 100) {
            reported = now;
            await progress.invokeMethodAsync('OnExportProgress', lines, bytes);
        }
    }
    if (progress) await progress.invokeMethodAsync('OnExportProgress', lines, bytes);
    const blob = new Blob(chunks, { type: response.headers.get('Content-Type') || 'application/octet-stream' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = fileName;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    return {
        lines, bytes, fileName,
        from: response.headers.get('Audit-Export-From'),
        to: response.headers.get('Audit-Export-To'),
    };
}
