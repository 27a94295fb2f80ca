// upkeep web manager (issue 12): one page drawn from /api/v1, kept live by server-sent events.
// Every operation is checked again on the server; the buttons only say what the server allows.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);

// Elements are built with textContent only: nothing from the daemon is ever parsed as HTML.
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined) continue;
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return e;
}

// The same words `upkeep status` colours.
function tone(word) {
  switch (word) {
    case 'online': case 'monitoring': case 'running': case 'normal': return 's-ok';
    case 'starting': case 'stopping': case 'start_wait': case 'waiting_for_target':
    case 'suspended': case 'recovering': case 'online_partial': case 'offline_partial':
    case 'warning': case 'backoff': return 's-mid';
    case 'start_failed': case 'stop_failed': case 'error': case 'failed': return 's-bad';
    default: return 's-off';
  }
}
const badge = (word, cls = '') => el('span', { class: `badge ${tone(word)} state ${cls}`, text: word || '—' });

let session = { role: null, csrf: '', can_operate: false, signed_in: false, accounts_exist: false };
let status = null;
let events = [];
let stream = null;
let view = 'overview';

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET') {
    headers['X-CSRF-Token'] = session.csrf || '';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let json = null;
  try { json = await r.json(); } catch (_) { json = null; }
  return { ok: r.ok, status: r.status, json };
}

function when(text) {
  if (!text) return '—';
  const d = new Date(text);
  if (isNaN(d)) return text;
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

function exitText(e) {
  if (!e) return '—';
  if ('code' in e) return `code ${e.code}`;
  if ('signal' in e) return `signal ${e.signal}`;
  return JSON.stringify(e);
}

function showResult(ok, message) {
  const r = $('#result');
  r.hidden = false;
  r.className = ok ? '' : 'error';
  r.textContent = message;
  clearTimeout(showResult.timer);
  showResult.timer = setTimeout(() => { r.hidden = true; }, 10000);
}

// An operation button: disabled unless this session may operate; a confirmation, then the
// server's answer in #result.
function opButton(label, path, question, opts = {}) {
  const allowed = session.can_operate;
  return el('button', {
    class: `small ${opts.danger ? 'danger' : ''}`,
    dataset: { op: opts.op || '', name: opts.name || '' },
    disabled: !allowed,
    title: allowed ? question : (session.signed_in ? 'Your role is viewer: operations need an operator' : 'Sign in as an operator to operate'),
    onclick: () => confirmThen(question, opts.duration, (extra) => operate(path, extra)),
  }, label);
}

function confirmThen(question, withDuration, action) {
  const d = $('#confirm-dialog');
  $('#confirm-text').textContent = question;
  $('#confirm-duration-label').hidden = !withDuration;
  $('#confirm-duration').value = '';
  $('#confirm-yes').onclick = () => {
    d.close();
    const secs = $('#confirm-duration').value;
    action(withDuration && secs ? { for_s: Number(secs) } : undefined);
  };
  $('#confirm-no').onclick = () => d.close();
  d.showModal();
}

async function operate(path, extra) {
  const r = await api('POST', path, extra);
  const msg = r.json && (r.json.message || r.json.type) || `HTTP ${r.status}`;
  showResult(r.ok, r.ok ? `Done: ${msg}` : `Refused (${r.status}): ${msg}`);
}

async function explain(name) {
  const r = await api('GET', `/api/v1/explain/${encodeURIComponent(name)}`);
  $('#explain-title').textContent = r.ok ? `Why and how ${r.json.kind} ${name} recovers` : name;
  const list = $('#explain');
  list.replaceChildren(...(r.ok ? r.json.lines : [r.json ? r.json.message : 'no answer']).map((l) => el('li', { text: l })));
  $('#explain-dialog').showModal();
}

function renderServer() {
  const s = status.server, g = status.governor;
  $('#server-name').textContent = `${s.name} on ${s.host}`;
  const st = $('#server-state');
  st.className = `badge ${tone(s.suspended ? 'suspended' : s.state)}`;
  st.textContent = s.suspended ? `${s.state}, suspended` : s.state;
  const facts = [
    ['State', badge(s.state, 'server')],
    ['Monitoring', s.suspended ? badge('suspended') : badge('running')],
    ['Uptime', el('span', { id: 'uptime', text: duration(s.uptime_s) })],
    ['Daemon pid', s.pid || '—'],
    ['OS actions', s.os_actions],
    ['Reboots', el('span', { id: 'reboots', class: g.damaged ? 'error' : '', text: `${g.count} of ${g.max}${g.damaged ? ' (count damaged: limit treated as reached)' : ''}` })],
    ['Last error', when(g.last_error)],
  ];
  if (s.containment) facts.push(['Containment', s.containment]);
  $('#server-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]));
  $('#daemon-ops').replaceChildren(
    opButton('Suspend monitoring', '/api/v1/daemon/suspend', 'Suspend all monitors? Groups keep running.', { op: 'daemon-suspend' }),
    opButton('Resume monitoring', '/api/v1/daemon/resume', 'Resume all monitors?', { op: 'daemon-resume' }),
    opButton('Stop daemon', '/api/v1/daemon/stop', 'Stop the daemon? Every group is deactivated and monitoring stops (the process and this page stay).', { op: 'daemon-stop', danger: true }),
    opButton('Start daemon', '/api/v1/daemon/start', 'Start the daemon? Groups start as configured.', { op: 'daemon-start' }),
  );
}

function renderGroups() {
  const box = $('#groups');
  box.replaceChildren(...status.groups.map((g) => {
    const rows = g.resources.map((r) => el('tr', { dataset: { resource: r.name } },
      el('td', {}, el('strong', { text: r.name })),
      el('td', {}, badge(r.state), r.reason ? el('div', { class: 'detail', text: r.reason }) : null,
        r.next_attempt ? el('div', { class: 'detail', text: `next try ${when(r.next_attempt)}` }) : null),
      el('td', { class: 'pid', text: r.pid ?? '—' }),
      el('td', { class: 'hide-narrow', text: when(r.since) }),
      el('td', { class: 'hide-narrow', text: exitText(r.last_exit) }),
      el('td', { class: 'restarts', text: r.restarts || 0 }),
      el('td', {}, el('div', { class: 'ops' },
        opButton('Start', `/api/v1/resources/${encodeURIComponent(r.name)}/start`, `Start resource ${r.name}?`, { op: 'resource-start', name: r.name }),
        opButton('Stop', `/api/v1/resources/${encodeURIComponent(r.name)}/stop`, `Stop resource ${r.name}?`, { op: 'resource-stop', name: r.name, danger: true }),
        el('button', { class: 'small', onclick: () => explain(r.name) }, 'Explain'))),
    ));
    return el('article', { class: 'card group', dataset: { group: g.name } },
      el('div', { class: 'group-head' },
        el('h3', { text: g.name }), badge(g.state, 'group-state'),
        el('span', { class: 'muted', text: `since ${when(g.since)}` }),
        el('div', { class: 'spacer' }),
        el('div', { class: 'ops' },
          opButton('Start', `/api/v1/groups/${encodeURIComponent(g.name)}/start`, `Start group ${g.name}?`, { op: 'group-start', name: g.name }),
          opButton('Stop', `/api/v1/groups/${encodeURIComponent(g.name)}/stop`, `Stop group ${g.name}? Its resources are deactivated in reverse order.`, { op: 'group-stop', name: g.name, danger: true }),
          opButton('Restart', `/api/v1/groups/${encodeURIComponent(g.name)}/restart`, `Restart group ${g.name}?`, { op: 'group-restart', name: g.name }))),
      el('div', { class: 'scroll' }, el('table', {},
        el('thead', {}, el('tr', {}, ['Resource', 'State', 'Pid', 'Since', 'Last exit', 'Restarts', ''].map((h, i) =>
          el('th', { class: i === 3 || i === 4 ? 'hide-narrow' : '', text: h })))),
        el('tbody', {}, rows))));
  }));
}

function renderMonitors() {
  $('#monitors tbody').replaceChildren(...status.monitors.map((m) => el('tr', { dataset: { monitor: m.name } },
    el('td', {}, el('strong', { text: m.name })),
    el('td', { text: m.kind }),
    el('td', {}, badge(m.phase), m.suspended_until ? el('div', { class: 'detail', text: `until ${when(m.suspended_until)}` }) : null,
      m.failed ? el('div', { class: 'detail', text: m.failed }) : null),
    el('td', {}, m.last_verdict ? badge(m.last_verdict) : '—'),
    el('td', { text: `${m.failures}/${m.needed}` }),
    el('td', { text: `${m.reactivations}/${m.reactivation_threshold}` }),
    el('td', {}, when(m.since), m.last_detail ? el('div', { class: 'detail', text: m.last_detail }) : null),
    el('td', {}, el('div', { class: 'ops' },
      opButton('Suspend', '/api/v1/monitors/suspend', `Suspend monitor ${m.name}?`, { op: 'monitor-suspend', name: m.name, duration: true }),
      opButton('Resume', '/api/v1/monitors/resume', `Resume monitor ${m.name}?`, { op: 'monitor-resume', name: m.name }),
      el('button', { class: 'small', onclick: () => explain(m.name) }, 'Explain'))),
  )));
  // The monitor buttons carry their monitor's name in the body.
  for (const b of document.querySelectorAll('#monitors button[data-op^="monitor-"]')) {
    const name = b.dataset.name, path = b.dataset.op === 'monitor-suspend' ? '/api/v1/monitors/suspend' : '/api/v1/monitors/resume';
    const withDuration = b.dataset.op === 'monitor-suspend';
    b.onclick = () => confirmThen(b.title, withDuration, (extra) => operate(path, Object.assign({ names: [name] }, extra || {})));
  }
}

// UI-2: what the cluster product does and a single server cannot, shown and greyed out.
function renderClusterOps() {
  const why = 'Not available: upkeep supervises one server (UI-2)';
  $('#cluster-ops').replaceChildren(...['Cluster shutdown', 'Move group to another server', 'Failover policy', 'Other servers'].map((l) =>
    el('button', { class: 'small', disabled: true, title: why, dataset: { op: 'cluster' } }, l)));
}

function eventItem(e) {
  return el('li', { dataset: { seq: e.seq } },
    el('time', { datetime: e.at, text: when(e.at) }),
    el('span', { class: `lvl-${e.level}`, text: `${e.level} ${e.module}/${e.event_id}` }),
    el('span', { class: 'text', text: e.text }));
}

function renderAlerts() {
  const alerts = events.filter((e) => e.level !== 'info').slice(-6).reverse();
  $('#alerts').replaceChildren(...(alerts.length ? alerts.map(eventItem) : [el('li', { class: 'muted', text: 'No warnings or errors kept.' })]));
}

function filterOf(form) {
  const f = {};
  for (const [k, v] of new FormData(form).entries()) {
    if (!v) continue;
    f[k] = (k === 'from' || k === 'to') ? new Date(v).toISOString() : v;
  }
  return f;
}

function matches(f, e) {
  const rank = (l) => ({ error: 2, warning: 1 }[l] || 0);
  return (!f.level || rank(e.level) >= rank(f.level)) && (!f.module || e.module === f.module)
    && (!f.object || e.text.includes(f.object)) && (!f.from || e.at >= f.from) && (!f.to || e.at <= f.to);
}

async function loadEvents() {
  const f = filterOf($('#event-filter'));
  const q = new URLSearchParams(Object.assign({ limit: 500 }, f));
  const r = await api('GET', `/api/v1/events?${q}`);
  if (r.ok) $('#events').replaceChildren(...r.json.events.slice().reverse().map(eventItem));
}

function treeText(node, prefix = '', last = true, root = true) {
  const name = root ? node.path : node.path.split('/').pop();
  const extra = [node.kind, node.status, node.pid ? `pid ${node.pid}` : '', node.restarts ? `${node.restarts} restarts` : '', node.last_failure || ''].filter(Boolean).join('  ');
  let out = `${prefix}${root ? '' : (last ? '└─ ' : '├─ ')}${name}  ${extra}\n`;
  const kids = node.children || [];
  kids.forEach((k, i) => { out += treeText(k, root ? '' : prefix + (last ? '   ' : '│  '), i === kids.length - 1, false); });
  return out;
}

async function loadTree() {
  const r = await api('GET', '/api/v1/tree');
  if (r.ok) $('#tree').textContent = treeText(r.json.root);
}

function render() {
  if (!status) return;
  renderServer();
  renderGroups();
  renderMonitors();
  renderClusterOps();
  renderAlerts();
}

function connect() {
  if (stream) stream.close();
  stream = new EventSource('/api/v1/stream');
  stream.addEventListener('open', () => { $('#live').className = 'live on'; $('#live').textContent = 'live'; });
  stream.addEventListener('error', async () => {
    $('#live').className = 'live off';
    $('#live').textContent = 'reconnecting';
    // A session that ended (idle timeout, sign-out elsewhere): ask to sign in again.
    await loadSession();
    if (!session.role) { stream.close(); $('#live').textContent = 'signed out'; $('#login-dialog').showModal(); }
  });
  stream.addEventListener('status', (m) => {
    status = JSON.parse(m.data);
    render();
    if (view === 'tree') loadTree();
  });
  stream.addEventListener('event', (m) => {
    const e = JSON.parse(m.data);
    events.push(e);
    if (events.length > 1000) events.splice(0, events.length - 1000);
    renderAlerts();
    if (view === 'events' && matches(filterOf($('#event-filter')), e)) $('#events').prepend(eventItem(e));
  });
}

async function loadSession() {
  const r = await api('GET', '/api/v1/session');
  if (r.ok) session = r.json;
  $('#whoami').textContent = session.signed_in ? `${session.name} (${session.role})`
    : session.role ? 'view only' : '';
  $('#show-login').hidden = session.signed_in || !session.accounts_exist && !!session.role;
  $('#logout').hidden = !session.signed_in;
}

async function start() {
  await loadSession();
  if (!session.role) {
    $('#login-dialog').showModal();
    return;
  }
  const [st, ev] = await Promise.all([api('GET', '/api/v1/status'), api('GET', '/api/v1/events?limit=200')]);
  if (ev.ok) events = ev.json.events;
  if (st.ok) { status = st.json; render(); }
  connect();
}

document.addEventListener('DOMContentLoaded', () => {
  for (const t of document.querySelectorAll('.tab')) {
    t.addEventListener('click', () => {
      view = t.dataset.view;
      for (const o of document.querySelectorAll('.tab')) o.classList.toggle('active', o === t);
      for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${view}`;
      if (view === 'tree') loadTree();
      if (view === 'events') loadEvents();
    });
  }
  $('#event-filter').addEventListener('submit', (e) => { e.preventDefault(); loadEvents(); });
  $('#show-login').addEventListener('click', () => $('#login-dialog').showModal());
  $('#login-cancel').addEventListener('click', () => $('#login-dialog').close());
  $('#logout').addEventListener('click', async () => {
    await api('POST', '/logout');
    session = { role: null, csrf: '' };
    location.reload();
  });
  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('POST', '/login', { name: $('#login-name').value, password: $('#login-password').value });
    if (!r.ok) {
      $('#login-error').hidden = false;
      $('#login-error').textContent = r.json ? r.json.message : `HTTP ${r.status}`;
      return;
    }
    $('#login-password').value = '';
    $('#login-dialog').close();
    $('#login-error').hidden = true;
    await loadSession();
    session.csrf = r.json.csrf;
    const ev = await api('GET', '/api/v1/events?limit=200');
    if (ev.ok) events = ev.json.events;
    connect();
  });
  // The uptime counts on between status updates.
  setInterval(() => {
    if (status && status.server.state === 'online') {
      status.server.uptime_s += 1;
      const u = $('#uptime');
      if (u) u.textContent = duration(status.server.uptime_s);
    }
  }, 1000);
  start();
});
