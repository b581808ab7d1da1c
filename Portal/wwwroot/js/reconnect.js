// The live connection's state, told honestly: a banner on top (not Blazor's default box over the page) that says since
// when the page is disconnected and that taps made meanwhile are not sent, with a Reload button; retries every 0.5 s
// at first and never less often than every 5 s (the default waited 30 s between retries after a few minutes).
(() => {
  const banner = document.getElementById('components-reconnect-modal');
  const since = document.getElementById('reconnect-since');
  const state = document.getElementById('reconnect-state');
  document.getElementById('reconnect-reload').addEventListener('click', () => location.reload());
  let disconnectedAt = null;

  banner.addEventListener('components-reconnect-state-changed', event => {
    const detail = event.detail;
    banner.dataset.state = detail.state;
    if (detail.state === 'hide' || detail.state === 'resume') {
      banner.hidden = true;
      disconnectedAt = null;
      return;
    }
    if (detail.state === 'rejected') {
      // The server no longer knows this page's circuit: only a reload brings it back.
      location.reload();
      return;
    }
    if (disconnectedAt === null) {
      disconnectedAt = new Date();
      since.textContent = disconnectedAt.toISOString().substring(11, 19) + ' UTC';
    }
    state.textContent = detail.state === 'failed'
      ? 'Reconnecting failed; it is tried again when this tab is shown, or reload.'
      : `Reconnecting${detail.currentAttempt ? ` (attempt ${detail.currentAttempt})` : ''}…`;
    banner.hidden = false;
  });

  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && banner.dataset.state === 'failed') Blazor.reconnect();
  });

  Blazor.start({
    circuit: {
      reconnectionOptions: {
        maxRetries: 100000,
        retryIntervalMilliseconds: previousAttempts => Math.min(5000, 500 * (previousAttempts + 1)),
      },
    },
  });
})();
