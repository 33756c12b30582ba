// dbguard dashboard: polls /api/state and renders cards, charts and history.
// Everything is built with DOM nodes and textContent: no server text is ever parsed as HTML.
'use strict';
(function () {
  var state = null;
  var pending = {};
  var timer = null;

  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'class') el.className = attrs[k];
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) el.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined || c === false) continue;
      (Array.isArray(c) ? c : [c]).forEach(function (x) { el.appendChild(typeof x === 'string' ? document.createTextNode(x) : x); });
    }
    return el;
  }
  var SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    for (var k in attrs) el.setAttribute(k, attrs[k]);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  function bytes(n) {
    if (n === null || n === undefined) return '–';
    var u = ['B', 'KB', 'MB', 'GB', 'TB'];
    var i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + u[i];
  }
  function count(n) { return n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'); }
  function dur(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    return Math.floor(ms / 60000) + ' min ' + Math.round((ms % 60000) / 1000) + ' s';
  }
  function ago(iso) {
    if (!iso) return 'never';
    var sec = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    var future = sec < 0;
    sec = Math.abs(sec);
    var t = sec < 90 ? sec + ' s' : sec < 5400 ? Math.round(sec / 60) + ' min' : sec < 172800 ? Math.round(sec / 3600) + ' h' : Math.round(sec / 86400) + ' days';
    return future ? 'in ' + t : t + ' ago';
  }
  function when(iso) {
    if (!iso) return '–';
    var d = new Date(iso);
    var p = function (x) { return String(x).padStart(2, '0'); };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function timeEl(iso, text) { return iso ? h('time', { datetime: iso, title: when(iso), text: text }) : document.createTextNode(text); }

  function notice(text) {
    var n = document.getElementById('notice');
    n.textContent = text;
    n.hidden = !text;
  }

  var LABELS = { backup: 'Back up now', check: 'Check now', verify: 'Verify now' };
  function action(target, kind) {
    var key = target + ':' + kind;
    pending[key] = true;
    render();
    fetch('/api/run', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-dbguard-action': '1' },
      body: JSON.stringify({ target: target, kind: kind }),
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (res.status === 202) notice(kind + ' of ' + target + ' queued; it appears in the history below.');
        else notice((body && body.error) || ('request failed: HTTP ' + res.status));
      });
    }, function () { notice('the daemon did not answer'); }).then(function () {
      delete pending[key];
      load();
    });
  }

  function card(t) {
    var running = t.running.filter(function (r) { return r.state === 'running' || r.state === 'retrying'; });
    var lb = t.lastBackup;
    var lc = t.lastCheck;
    var dl = h('dl', null,
      h('dt', { text: 'Last backup' }),
      h('dd', null, lb ? timeEl(lb.createdAt, ago(lb.createdAt)) : h('span', { class: 'bad', text: 'none' }), lb && lb.fresh === false ? h('span', { class: 'bad', text: ' (stale)' }) : null),
      h('dt', { text: 'Size' }), h('dd', { text: lb ? bytes(lb.bytes) + ' · ' + count(lb.rows) + ' rows' : '–' }),
      h('dt', { text: 'Backups' }), h('dd', { text: String(t.backups) }),
      h('dt', { text: 'Last check' }),
      h('dd', null, lc ? timeEl(lc.at, ago(lc.at)) : document.createTextNode('never'), lc ? h('span', { class: lc.ok ? '' : 'bad', text: lc.ok ? (lc.findings.length ? ' · ' + lc.findings.length + ' warning(s)' : ' · no findings') : ' · ' + (lc.findings.join(', ') || 'damaged') }) : null),
      h('dt', { text: 'Restorable' }),
      h('dd', { class: t.drillOverdue ? 'warn' : '' }, t.lastVerified ? timeEl(t.lastVerified, 'proven ' + ago(t.lastVerified)) : document.createTextNode('never proven by a drill'), t.drillOverdue ? ' (drill overdue)' : ''),
      h('dt', { text: 'Next runs' }),
      h('dd', null, 'backup ', timeEl(t.nextRuns.backup, ago(t.nextRuns.backup)), ' · check ', timeEl(t.nextRuns.check, ago(t.nextRuns.check)), ' · drill ', timeEl(t.nextRuns.verify, ago(t.nextRuns.verify))),
      t.lastFailure ? h('dt', { text: 'Last failure' }) : null,
      t.lastFailure ? h('dd', { class: 'bad' }, timeEl(t.lastFailure.at, ago(t.lastFailure.at)), ' · ' + t.lastFailure.kind + ': ' + (t.lastFailure.message || t.lastFailure.code || '')) : null,
      lb && lb.consistency ? h('dt', { text: 'Copy' }) : null,
      lb && lb.consistency ? h('dd', { text: String(lb.consistency) }) : null
    );
    var live = running.map(function (r) {
      var pct = r.total ? Math.min(100, Math.round((r.done / r.total) * 100)) : null;
      return h('div', { class: 'progress', role: 'status' },
        h('div', { text: r.kind + ' running' + (r.phase ? ': ' + r.phase : '') + (pct !== null ? ' ' + pct + '%' : '') + (r.attempt > 1 ? ' (attempt ' + r.attempt + ')' : '') }),
        pct !== null ? h('progress', { max: '100', value: String(pct), 'aria-label': r.kind + ' progress' }) : h('progress', { 'aria-label': r.kind + ' in progress' }));
    });
    var actions = h('div', { class: 'actions' });
    ['backup', 'check', 'verify'].forEach(function (k) {
      var busy = pending[t.target + ':' + k] || t.queued[k];
      actions.appendChild(h('button', { type: 'button', class: k === 'backup' ? '' : 'secondary', disabled: busy ? 'disabled' : null, 'data-action': k, 'aria-label': LABELS[k] + ': ' + t.target, onclick: function () { action(t.target, k); } }, busy ? (k === 'backup' ? 'Backing up…' : k === 'check' ? 'Checking…' : 'Verifying…') : LABELS[k]));
    });
    return h('article', { class: 'card s-' + t.status, 'data-target': t.target, 'aria-labelledby': 'card-' + t.target },
      h('header', null, h('h3', { id: 'card-' + t.target, text: t.target }), h('span', { class: 'pill ' + t.status, text: t.status })),
      h('p', { class: 'reason', text: t.reason }),
      dl, live.length ? h('div', null, live) : null, actions);
  }

  function chart(target, points) {
    var W = 340, H = 150, L = 54, R = 48, T = 14, B = 28;
    var box = h('figure', { class: 'chart', 'data-target': target });
    box.appendChild(h('h3', { text: target }));
    if (points.length === 0) { box.appendChild(h('p', { class: 'muted', text: 'no backups yet' })); return box; }
    var svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'backup size and duration of ' + target + ' over time, ' + points.length + ' backups' });
    var t0 = new Date(points[0].at).getTime(), t1 = new Date(points[points.length - 1].at).getTime();
    var maxB = Math.max.apply(null, points.map(function (p) { return p.bytes; })) || 1;
    var durs = points.map(function (p) { return p.durationMs || 0; });
    var maxD = Math.max.apply(null, durs) || 1;
    var x = function (p) { return t1 === t0 ? L + (W - L - R) / 2 : L + ((new Date(p.at).getTime() - t0) / (t1 - t0)) * (W - L - R); };
    var yb = function (v) { return T + (1 - v / maxB) * (H - T - B); };
    var yd = function (v) { return T + (1 - v / maxD) * (H - T - B); };
    svg.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    svg.appendChild(s('line', { class: 'axis', x1: L, x2: W - R, y1: T, y2: T }));
    svg.appendChild(s('text', { class: 'lbl', x: L - 4, y: T + 4, 'text-anchor': 'end' }, bytes(maxB)));
    svg.appendChild(s('text', { class: 'lbl', x: L - 4, y: H - B, 'text-anchor': 'end' }, '0'));
    svg.appendChild(s('text', { class: 'lbl', x: W - R + 4, y: T + 4 }, dur(maxD)));
    svg.appendChild(s('text', { class: 'lbl', x: W - R + 4, y: H - B }, '0'));
    svg.appendChild(s('text', { class: 'lbl', x: L, y: H - 8 }, when(points[0].at).slice(5, 16)));
    svg.appendChild(s('text', { class: 'lbl', x: W - R, y: H - 8, 'text-anchor': 'end' }, when(points[points.length - 1].at).slice(5, 16)));
    var line = function (cls, y, key) {
      var d = points.map(function (p, i) { return (i ? 'L' : 'M') + x(p).toFixed(1) + ' ' + y(p[key] || 0).toFixed(1); }).join(' ');
      svg.appendChild(s('path', { class: cls, d: d }));
      points.forEach(function (p) {
        var c = s('circle', { class: 'dot-' + cls, cx: x(p).toFixed(1), cy: y(p[key] || 0).toFixed(1), r: 3 });
        c.appendChild(s('title', {}, when(p.at) + ': ' + (key === 'bytes' ? bytes(p.bytes) : dur(p.durationMs))));
        svg.appendChild(c);
      });
    };
    line('size', yb, 'bytes');
    if (points.some(function (p) { return p.durationMs; })) line('dur', yd, 'durationMs');
    box.appendChild(svg);
    box.appendChild(h('figcaption', { class: 'muted' }, h('span', { class: 'swatch-size', text: '● size (left)' }), '  ', h('span', { class: 'swatch-dur', text: '● duration (right)' })));
    return box;
  }

  function historyRows() {
    var ft = document.getElementById('f-target').value;
    var fr = document.getElementById('f-result').value;
    return state.history.filter(function (r) {
      if (ft && r.target !== ft) return false;
      if (fr === 'running') return r.state === 'running' || r.state === 'pending' || r.state === 'retrying';
      if (fr === 'failed') return r.state === 'failed' || r.state === 'died';
      return !fr || r.state === fr;
    });
  }

  function render() {
    if (!state) return;
    var overall = document.getElementById('overall');
    overall.textContent = state.status;
    overall.className = 'pill ' + state.status;
    document.getElementById('updated').textContent = 'updated ' + when(state.now);
    var cards = document.getElementById('cards');
    cards.replaceChildren.apply(cards, state.targets.map(card));
    var charts = document.getElementById('charts');
    charts.replaceChildren.apply(charts, state.targets.map(function (t) { return chart(t.target, state.series[t.target] || []); }));
    var sel = document.getElementById('f-target');
    if (sel.options.length !== state.targets.length + 1) {
      var keep = sel.value;
      sel.replaceChildren(h('option', { value: '', text: 'all' }));
      state.targets.forEach(function (t) { sel.appendChild(h('option', { value: t.target, text: t.target })); });
      sel.value = keep;
    }
    var tbody = document.querySelector('#history tbody');
    var rows = historyRows().map(function (r) {
      return h('tr', { 'data-run': r.id, 'data-kind': r.kind, 'data-state': r.state },
        h('td', null, timeEl(r.startedAt || r.at, when(r.startedAt || r.at))),
        h('td', { text: r.target }),
        h('td', { text: r.kind + (r.source === 'cli' ? ' (cli)' : r.reason === 'dashboard' ? ' (dashboard)' : '') }),
        h('td', { class: 'r-' + r.state, text: r.state }),
        h('td', { class: 'num', text: dur(r.durationMs) }),
        h('td', { class: 'num', text: bytes(r.bytes) }),
        h('td', { class: 'num', text: count(r.rows) }),
        h('td', { class: 'num', text: String(r.attempt) }),
        h('td', null, h('code', { title: r.id, text: r.id.slice(0, 8) })),
        h('td', { class: r.error ? 'err' : '', text: r.error || '' }));
    });
    if (!rows.length) rows = [h('tr', null, h('td', { colspan: '10', class: 'muted', text: 'no runs match' }))];
    tbody.replaceChildren.apply(tbody, rows);
  }

  function load() {
    clearTimeout(timer);
    fetch('/api/state', { credentials: 'same-origin', headers: { accept: 'application/json' } }).then(function (res) {
      if (res.status === 401) { location.reload(); return null; }
      if (!res.ok) throw new Error('HTTP ' + res.status);
      return res.json();
    }).then(function (doc) {
      if (!doc) return;
      state = doc;
      render();
      var busy = doc.targets.some(function (t) { return t.running.length; });
      timer = setTimeout(load, busy ? 1000 : 5000);
    }).catch(function (err) {
      notice('could not reach the daemon (' + err.message + '); retrying');
      timer = setTimeout(load, 5000);
    });
  }

  document.getElementById('f-target').addEventListener('change', render);
  document.getElementById('f-result').addEventListener('change', render);
  load();
})();
