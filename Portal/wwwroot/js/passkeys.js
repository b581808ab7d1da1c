// Passkeys (WebAuthn) on the static sign-in and account pages: asks Portal for options, lets the browser talk to the
// authenticator, and sends the answer back (Portal/Features/Identity/PasskeyEndpoints.cs). Every write carries the
// page's antiforgery token. Nothing secret passes through here: the private key never leaves the authenticator.
(() => {
    'use strict';
    const base = '/api/account/passkeys';
    const supported = typeof window.PublicKeyCredential === 'function'
        && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function'
        && typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';

    async function call(method, url, token, body) {
        const response = await fetch(url, {
            method,
            credentials: 'same-origin',
            headers: { 'Content-Type': 'application/json', 'RequestVerificationToken': token },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await response.text();
        const json = text ? JSON.parse(text) : null;
        if (!response.ok) {
            const errors = json && json.errors ? Object.values(json.errors).flat().join(' ') : '';
            throw new Error(errors || (json && (json.detail || json.title)) || `Portal answered ${response.status}.`);
        }
        return json;
    }

    // What the browser said when the person cancelled or no authenticator answered, in words for them.
    function describe(error) {
        if (error && error.name === 'NotAllowedError') return 'No passkey was given (cancelled or timed out).';
        if (error && error.name === 'InvalidStateError') return 'This device already holds a passkey for your account.';
        return (error && error.message) || String(error);
    }

    function show(element, message, ok) {
        if (!element) return;
        element.textContent = message;
        element.hidden = false;
        element.classList.toggle('ok', !!ok);
    }

    const signIn = document.getElementById('passkey-sign-in');
    if (signIn) {
        const error = document.getElementById('passkey-sign-in-error');
        if (!supported) {
            signIn.disabled = true;
            show(error, 'This browser cannot use passkeys; sign in with your password.');
        }
        signIn.addEventListener('click', async () => {
            signIn.disabled = true;
            try {
                const token = signIn.dataset.token;
                const options = await call('POST', base + '/request-options', token);
                const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
                const remember = document.getElementById('remember-device');
                const reply = await call('POST', base + '/sign-in', token, {
                    credentialJson: JSON.stringify(credential),
                    rememberDevice: !!(remember && remember.checked),
                    returnUrl: signIn.dataset.returnUrl,
                });
                window.location.assign(reply.redirect);
            } catch (e) {
                show(error, describe(e));
                signIn.disabled = false;
            }
        });
    }

    const section = document.getElementById('passkeys');
    if (section) {
        const token = section.dataset.token;
        const message = document.getElementById('passkey-message');
        const add = document.getElementById('passkey-add');
        const done = (text) => window.location.assign(window.location.pathname + '?passkey=' + encodeURIComponent(text) + '#passkeys');
        if (add && !supported) {
            add.disabled = true;
            show(message, 'This browser cannot create passkeys.');
        }
        if (add) add.addEventListener('click', async () => {
            add.disabled = true;
            try {
                const password = document.getElementById('passkey-password');
                const options = await call('POST', base + '/creation-options', token, { password: password ? password.value : null });
                if (password) password.value = '';
                const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) });
                const name = document.getElementById('passkey-name');
                await call('POST', base, token, { credentialJson: JSON.stringify(credential), name: name ? name.value : null });
                done('added');
            } catch (e) {
                show(message, describe(e));
                add.disabled = false;
            }
        });
        section.querySelectorAll('.passkey-row').forEach(row => {
            const id = encodeURIComponent(row.dataset.id);
            const rename = row.querySelector('.passkey-rename');
            const remove = row.querySelector('.passkey-remove');
            if (rename) rename.addEventListener('click', async () => {
                try {
                    await call('PATCH', `${base}/${id}`, token, { name: row.querySelector('.passkey-rename-name').value });
                    done('renamed');
                } catch (e) { show(message, describe(e)); }
            });
            if (remove) remove.addEventListener('click', async () => {
                if (!window.confirm(`Remove the passkey "${row.dataset.name}"? It will no longer sign you in.`)) return;
                try {
                    await call('DELETE', `${base}/${id}`, token);
                    done('removed');
                } catch (e) { show(message, describe(e)); }
            });
        });
    }
})();
