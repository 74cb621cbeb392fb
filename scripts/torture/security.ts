import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  API_TOKEN,
  cliPath,
  type HttpResult,
  jsonBody,
  round,
  type ScenarioOptions,
  TortureDaemon,
  Violations,
} from './harness.js';

function cookiesOf(res: HttpResult): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of res.headers['set-cookie'] ?? []) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

/**
 * Security: session fixation, CSRF, credentials in the query string, brute-force login (rate limit), and no secret
 * in the daemon's output. The daemon runs without dev mode here, as it does under systemd.
 */
export async function run(opts: ScenarioOptions): Promise<Record<string, unknown>> {
  const v = new Violations();
  const d = new TortureDaemon({ keepFullLog: true, env: { PINHOLE_DEV: '0' }, storageYaml: '  minFreeMB: 0' });
  const password = `pw-${randomBytes(9).toString('base64url')}`;
  const t0 = Date.now();
  const secrets: string[] = [password, API_TOKEN];
  const figures: Record<string, unknown> = {};
  try {
    const pw = spawnSync(process.execPath, [cliPath, 'passwd', '--config', d.configFile], {
      input: `${password}\n`,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, PINHOLE_CONFIG: '' },
    });
    if (pw.status !== 0) throw new Error(`pinhole passwd failed: ${pw.stderr}`);
    await d.start();
    const origin = d.url;
    const login = (pwd: string, headers: Record<string, string> = {}) => {
      const b = jsonBody({ password: pwd });
      return d.req('/api/login', {
        method: 'POST',
        auth: false,
        body: b.body,
        headers: { ...b.headers, Origin: origin, ...headers },
      });
    };

    // ---- session fixation: a cookie chosen by the client is never adopted; the id rotates on every login ----------
    const planted = 'a'.repeat(64);
    const l1 = await login(password, { Cookie: `pinhole_session=${planted}` });
    if (l1.status !== 200) throw new Error(`login with the right password → ${l1.status} ${l1.body.toString()}`);
    const c1 = cookiesOf(l1);
    const sid1 = c1.pinhole_session;
    const csrf1 = l1.json<{ csrfToken: string }>().csrfToken;
    secrets.push(sid1, csrf1);
    v.check(sid1 && sid1 !== planted, `login kept the planted session id (${sid1})`);
    const setCookie = (l1.headers['set-cookie'] ?? []).join(' | ');
    v.check(
      /HttpOnly/i.test(setCookie) && /SameSite=Strict/i.test(setCookie),
      `session cookie lacks HttpOnly/SameSite=Strict: ${setCookie}`,
    );
    const plantedUse = await d.req('/api/photos', { auth: false, headers: { Cookie: `pinhole_session=${planted}` } });
    v.check(plantedUse.status === 401, `the planted session id opens /api/photos (${plantedUse.status})`);
    const l2 = await login(password, { Cookie: `pinhole_session=${sid1}` });
    const sid2 = cookiesOf(l2).pinhole_session;
    secrets.push(sid2, l2.json<{ csrfToken: string }>().csrfToken);
    v.check(sid2 && sid2 !== sid1, 'the session id did not rotate on a second login');
    const ok = await d.req('/api/photos', { auth: false, headers: { Cookie: `pinhole_session=${sid1}` } });
    v.check(ok.status === 200 || ok.status === 401, `GET with the first session → ${ok.status}`);
    figures.sessionFixation = {
      plantedAdopted: sid1 === planted,
      plantedStatus: plantedUse.status,
      rotated: sid1 !== sid2,
    };

    // ---- CSRF: a valid cookie is not enough for a state change -------------------------------------------------
    const cookie = `pinhole_session=${sid1}; pinhole_csrf=${csrf1}`;
    const attempts: [string, Record<string, string>, number[]][] = [
      ['cookie, cross-origin, no token', { Cookie: cookie, Origin: 'http://evil.example' }, [403]],
      [
        'cookie, cross-origin, with token',
        { Cookie: cookie, Origin: 'http://evil.example', 'X-CSRF-Token': csrf1 },
        [403],
      ],
      [
        'cookie, Sec-Fetch-Site cross-site, with token',
        { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site', 'X-CSRF-Token': csrf1 },
        [403],
      ],
      ['cookie, same origin, no token', { Cookie: cookie, Origin: origin }, [403]],
      ['cookie, same origin, wrong token', { Cookie: cookie, Origin: origin, 'X-CSRF-Token': 'x'.repeat(43) }, [403]],
      ['cookie, Origin null, with token', { Cookie: cookie, Origin: 'null', 'X-CSRF-Token': csrf1 }, [403]],
      ['no credentials, cross-origin', { Origin: 'http://evil.example' }, [401]],
    ];
    const csrfResults: Record<string, number> = {};
    for (const [label, headers, expect] of attempts) {
      for (const [method, p] of [
        ['POST', '/api/capture'],
        ['PUT', '/api/config'],
        ['POST', '/api/system/reboot'],
      ]) {
        const b = jsonBody(p === '/api/config' ? { camera: { preview: { quality: 42 } } } : {});
        const res = await d.req(p, { method, auth: false, body: b.body, headers: { ...b.headers, ...headers } });
        csrfResults[`${label}: ${method} ${p}`] = res.status;
        if (!expect.includes(res.status))
          v.add(`CSRF ${label}: ${method} ${p} → ${res.status} (expected ${expect.join('/')})`);
      }
    }
    // The positive control: same origin with the token works, so the 403s above are not an accident.
    const b = jsonBody({});
    const good = await d.req('/api/capture', {
      method: 'POST',
      auth: false,
      body: b.body,
      headers: { ...b.headers, Cookie: cookie, Origin: origin, 'X-CSRF-Token': csrf1 },
    });
    csrfResults['control: same origin + token: POST /api/capture'] = good.status;
    v.check([201, 409, 503].includes(good.status), `same-origin capture with the CSRF token → ${good.status}`);
    figures.csrf = csrfResults;

    // ---- credentials in the query string are refused ------------------------------------------------------------
    const query: Record<string, number> = {};
    for (const q of [
      `token=${API_TOKEN}`,
      `access_token=${API_TOKEN}`,
      `api_key=${API_TOKEN}`,
      `session=${sid1}`,
      `password=${encodeURIComponent(password)}`,
    ]) {
      for (const withHeader of [false, true]) {
        const res = await d.req(`/api/photos?${q}`, { auth: withHeader });
        query[`${q.split('=')[0]}${withHeader ? '+bearer' : ''}`] = res.status;
        if (res.status !== 401)
          v.add(
            `credential in the query (${q.split('=')[0]}${withHeader ? ', with a bearer header too' : ''}) → ${res.status}`,
          );
      }
    }
    figures.tokenInQuery = query;

    // ---- brute force: rate limit holds, and the right password is refused while locked out -------------------------
    let firstLimited = 0;
    let retryAfter: string | undefined;
    for (let i = 1; i <= 12; i++) {
      const res = await login(`wrong-${i}`);
      if (res.status === 429) {
        firstLimited ||= i;
        retryAfter ??= String(res.headers['retry-after'] ?? '');
      } else if (res.status !== 401 && res.status !== 403) v.add(`wrong password attempt ${i} → ${res.status}`);
      if (firstLimited && res.status !== 429) v.add(`attempt ${i} after the lockout → ${res.status}, not 429`);
    }
    if (!firstLimited) v.add('12 wrong passwords in a row never hit the rate limit');
    else if (firstLimited > 7) v.add(`rate limit started only at attempt ${firstLimited}`);
    if (!retryAfter || !(Number(retryAfter) > 0)) v.add(`429 without a usable Retry-After (${retryAfter})`);
    const right = await login(password);
    if (right.status !== 429) v.add(`the right password during the lockout → ${right.status}, not 429`);
    if (right.status === 200) secrets.push(cookiesOf(right).pinhole_session);
    // The lockout applies to login only: the API token keeps working.
    const tokenStill = await d.req('/api/photos');
    v.check(tokenStill.status === 200, `the API token stopped working during a login lockout (${tokenStill.status})`);
    figures.bruteForce = {
      firstLimitedAttempt: firstLimited,
      retryAfterS: Number(retryAfter),
      rightPasswordWhileLocked: right.status,
    };

    // ---- logout ends the session --------------------------------------------------------------------------------
    const lo = await d.req('/api/logout', {
      method: 'POST',
      auth: false,
      headers: {
        Cookie: `pinhole_session=${sid2}`,
        Origin: origin,
        'X-CSRF-Token': l2.json<{ csrfToken: string }>().csrfToken,
      },
    });
    const after = await d.req('/api/photos', { auth: false, headers: { Cookie: `pinhole_session=${sid2}` } });
    v.check(after.status === 401, `a logged-out session still works (logout ${lo.status}, then ${after.status})`);

    // ---- no secret in the logs -------------------------------------------------------------------------------------
    await d.kill('SIGTERM');
    const log = d.output;
    const leaked = secrets.filter((s) => s && s.length >= 8 && log.includes(s));
    for (const s of leaked) v.add(`a secret appears in the daemon's output: ${s.slice(0, 4)}…`);
    figures.logs = {
      bytes: log.length,
      lines: log.split('\n').length,
      secretsChecked: secrets.length,
      secretsFound: leaked.length,
    };
  } finally {
    await d.cleanup();
  }
  return { ok: v.ok, violations: v.list, ...figures, seconds: round((Date.now() - t0) / 1000), quick: opts.quick };
}
