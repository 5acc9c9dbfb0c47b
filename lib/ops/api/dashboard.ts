// The dashboard served at `GET /`: one self-contained page (inline CSS and script, no build
// step, nothing fetched from elsewhere, so it works offline). It polls the REST API itself, so it
// sees exactly what an operator's curl would. The script avoids template literals so that this
// file can hold it in one.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>evloop tasks</title>
<link rel="icon" href="data:,">
<style>
  :root {
    --bg: #f4f6f9; --panel: #fff; --ink: #1d2430; --muted: #687385; --line: #e3e7ee;
    --accent: #2f6fed; --ok: #1f9d55; --warn: #d98a00; --bad: #d64545; --info: #2f6fed;
  }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
         background: var(--bg); color: var(--ink); }
  header { background: #18202c; color: #fff; padding: 12px 24px; display: flex; align-items: center; gap: 18px; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; letter-spacing: .2px; }
  header h1 span { color: #8fb3ff; }
  .pill { display: inline-flex; align-items: center; gap: 6px; padding: 3px 10px; border-radius: 999px;
          background: rgba(255,255,255,.1); font-size: 12px; }
  .dot { width: 8px; height: 8px; border-radius: 50%; background: #888; display: inline-block; }
  .dot.active, .dot.ok { background: #35c46e; } .dot.standby { background: #f0b429; } .dot.off { background: #9aa5b4; } .dot.down { background: #e05252; }
  header .spacer { flex: 1; }
  header .updated { font-size: 12px; color: #aab4c3; }
  main { padding: 20px 24px 40px; display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 20px; max-width: 1500px; margin: 0 auto; }
  @media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
  section.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px;
                  box-shadow: 0 1px 2px rgba(16,24,40,.04); margin-bottom: 20px; }
  h2 { font-size: 15px; margin: 0 0 12px; font-weight: 600; display: flex; align-items: center; gap: 8px; }
  h2 .count { color: var(--muted); font-weight: 400; }
  .cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 20px; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .5px; }
  .card .value { font-size: 28px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card.alert .value { color: var(--bad); }
  .chips { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 12px; }
  .chip { border: 1px solid var(--line); background: #f8f9fb; border-radius: 999px; padding: 3px 10px; cursor: pointer;
          font-size: 12px; color: var(--ink); display: inline-flex; gap: 6px; align-items: center; }
  .chip b { font-variant-numeric: tabular-nums; }
  .chip.empty { opacity: .5; }
  .chip.selected { border-color: var(--accent); background: #e8f0ff; }
  .toolbar { display: flex; gap: 10px; align-items: center; margin-bottom: 10px; flex-wrap: wrap; }
  .toolbar .spacer { flex: 1; }
  table { width: 100%; border-collapse: collapse; font-size: 13px; }
  th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px; padding: 6px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  td { padding: 7px 8px; border-bottom: 1px solid #f0f2f6; vertical-align: middle; }
  tr:last-child td { border-bottom: 0; }
  td.mono, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
  td.msg { max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .empty-row td { color: var(--muted); text-align: center; padding: 18px; }
  .badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 7px; border-radius: 6px; font-weight: 600;
           font-size: 12px; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #fff; background: #8792a2; }
  .cat-success { background: var(--ok); } .cat-init { background: #7b8794; } .cat-inProcess { background: var(--info); }
  .cat-callback { background: #7c5cd6; } .cat-retryRequired, .cat-retryOptional, .cat-retryLater { background: var(--warn); }
  .cat-notRepeatable { background: var(--bad); } .cat-unhandled { background: #9b1c1c; } .cat-http, .cat-errno { background: #c2417a; }
  .cat-reserved { background: #8792a2; }
  .swatch { width: 9px; height: 9px; border-radius: 3px; display: inline-block; }
  button { font: inherit; border-radius: 7px; border: 1px solid var(--line); background: #fff; padding: 5px 12px; cursor: pointer; color: var(--ink); }
  button:hover { border-color: #b9c2d0; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; font-weight: 600; }
  button.primary:hover { background: #245ad0; }
  button.small { padding: 2px 9px; font-size: 12px; }
  button.danger { color: var(--bad); border-color: #f0c6c6; }
  button:disabled { opacity: .5; cursor: default; }
  label { display: block; font-size: 12px; color: var(--muted); margin: 10px 0 4px; }
  select, input, textarea { font: inherit; width: 100%; border: 1px solid var(--line); border-radius: 7px; padding: 6px 9px; background: #fff; color: var(--ink); }
  textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; min-height: 72px; resize: vertical; }
  .toolbar select { width: auto; }
  .hint { font-size: 12px; color: var(--muted); margin-top: 6px; }
  .form-actions { margin-top: 12px; display: flex; gap: 10px; align-items: center; }
  #flash { position: fixed; right: 20px; bottom: 20px; max-width: 420px; padding: 10px 14px; border-radius: 8px; color: #fff;
           background: #18202c; box-shadow: 0 4px 16px rgba(0,0,0,.2); font-size: 13px; display: none; }
  #flash.error { background: var(--bad); } #flash.show { display: block; }
  #offline { display: none; background: #fff4e5; color: #8a5300; border-bottom: 1px solid #f3d19e; padding: 8px 24px; font-size: 13px; }
  .pager { display: flex; gap: 6px; align-items: center; color: var(--muted); font-size: 12px; }
  .legend { display: grid; grid-template-columns: auto 1fr; gap: 3px 10px; font-size: 12px; }
  .legend .range { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: var(--muted); white-space: nowrap; }
</style>
</head>
<body>
<header>
  <h1><span>evloop</span> tasks</h1>
  <span class="pill" data-testid="health-api"><span class="dot" id="api-dot"></span><span id="api-text">connecting</span></span>
  <span class="pill">queue <b id="queue-kind">-</b></span>
  <span class="pill" data-testid="scanner"><span class="dot" id="scanner-dot"></span>scanner <b id="scanner-state">-</b></span>
  <span class="pill">workers <b id="workers">-</b></span>
  <span class="spacer"></span>
  <span class="updated" id="updated"></span>
</header>
<div id="offline">The API does not answer; retrying.</div>
<main>
  <div>
    <div class="cards">
      <div class="card"><div class="label">Queue depth</div><div class="value" id="q-depth" data-testid="q-depth">-</div></div>
      <div class="card"><div class="label">In flight</div><div class="value" id="q-inflight" data-testid="q-inflight">-</div></div>
      <div class="card"><div class="label">Delayed</div><div class="value" id="q-delayed" data-testid="q-delayed">-</div></div>
      <div class="card" id="q-dead-card"><div class="label">Dead letters</div><div class="value" id="q-dead" data-testid="q-dead">-</div></div>
    </div>
    <section class="panel">
      <h2>Runs <span class="count" id="runs-total"></span></h2>
      <div class="chips" id="chips" data-testid="categories"></div>
      <div class="toolbar">
        <select id="task-filter" aria-label="task filter"><option value="">all tasks</option></select>
        <span class="spacer"></span>
        <div class="pager"><span id="page-info"></span>
          <button class="small" id="prev" aria-label="previous page">&#8249;</button>
          <button class="small" id="next" aria-label="next page">&#8250;</button></div>
      </div>
      <table data-testid="runs">
        <thead><tr><th>run</th><th>task</th><th>key</th><th>status</th><th>message</th><th class="num">attempts</th><th>created</th><th>took</th><th></th></tr></thead>
        <tbody id="runs-body"><tr class="empty-row"><td colspan="9">loading</td></tr></tbody>
      </table>
    </section>
    <section class="panel">
      <h2>Dead letters <span class="count" id="dead-total"></span></h2>
      <table data-testid="dead-letters">
        <thead><tr><th>id</th><th>task</th><th>key</th><th>status</th><th>message</th><th>failed</th><th></th></tr></thead>
        <tbody id="dead-body"><tr class="empty-row"><td colspan="7">loading</td></tr></tbody>
      </table>
    </section>
  </div>
  <aside>
    <section class="panel">
      <h2>Start a run</h2>
      <form id="start-form" data-testid="start-form" autocomplete="off">
        <label for="start-task">task</label>
        <select id="start-task" name="task" required></select>
        <div class="hint" id="task-info"></div>
        <label for="start-params">params (JSON)</label>
        <textarea id="start-params" name="params" spellcheck="false" placeholder='{ "id": 42 }'></textarea>
        <label for="start-key">key (optional: one queued or running run per key)</label>
        <input id="start-key" name="key" placeholder="image:42">
        <div class="form-actions"><button class="primary" type="submit" id="start-button">Start run</button></div>
      </form>
    </section>
    <section class="panel">
      <h2>Status codes</h2>
      <div class="legend" id="legend"></div>
    </section>
  </aside>
</main>
<div id="flash" role="status"></div>
<script>
(function () {
  'use strict';
  var POLL_MS = 1000, PAGE = 25;
  var CATEGORIES = ['init', 'inProcess', 'callback', 'success', 'retryRequired', 'retryOptional', 'retryLater',
    'notRepeatable', 'http', 'errno', 'unhandled', 'reserved'];
  var state = { category: '', task: '', offset: 0, total: 0, tasksLoaded: false };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else if (k.slice(0, 2) === 'on') node.addEventListener(k.slice(2), attrs[k]);
      else node.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { 'Accept': 'application/json' } };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var e = new Error((data.error && data.error.message) || ('HTTP ' + res.status));
          e.code = data.error && data.error.code; e.status = res.status;
          throw e;
        }
        return data;
      });
    });
  }

  var flashTimer;
  function flash(text, isError) {
    var f = $('flash');
    f.textContent = text; f.className = 'show' + (isError ? ' error' : '');
    clearTimeout(flashTimer);
    flashTimer = setTimeout(function () { f.className = ''; }, 4000);
  }

  function badge(run) {
    return el('span', { className: 'badge cat-' + run.category, title: run.category, text: String(run.status) });
  }

  function ago(iso) {
    if (!iso) return '';
    var s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (s < 2) return 'just now';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    return new Date(iso).toLocaleTimeString();
  }

  function took(run) {
    if (!run.startedAt) return '';
    var end = run.endedAt ? Date.parse(run.endedAt) : Date.now();
    var ms = end - Date.parse(run.startedAt);
    return ms < 1000 ? ms + ' ms' : (ms / 1000).toFixed(1) + ' s';
  }

  // Queued, running or waiting for a retry: a run has no end time until it is over.
  function cancellable(run) { return !run.endedAt; }

  function renderRuns(data) {
    var body = $('runs-body');
    body.textContent = '';
    state.total = data.total;
    if (!data.runs.length) body.appendChild(el('tr', { className: 'empty-row' }, [el('td', { colspan: '9', text: 'no runs' })]));
    data.runs.forEach(function (run) {
      var action = cancellable(run)
        ? el('button', { className: 'small danger', 'data-action': 'cancel', 'data-run': run.id, text: 'Cancel', onclick: function (ev) { cancelRun(run.id, ev.target); } })
        : null;
      body.appendChild(el('tr', { 'data-run-id': run.id, 'data-category': run.category, 'data-status': String(run.status) }, [
        el('td', { className: 'mono', title: run.id, text: run.id.length > 12 ? run.id.slice(0, 12) + '\\u2026' : run.id }),
        el('td', { text: run.task }),
        el('td', { className: 'mono', title: 'params: ' + JSON.stringify(run.params), text: run.key }),
        el('td', null, [badge(run)]),
        el('td', { className: 'msg', title: run.error ? run.error.message : run.result !== undefined ? 'result: ' + JSON.stringify(run.result) : run.statusMessage,
                   text: run.statusMessage + (run.error && run.error.message ? ' \\u2014 ' + run.error.message : '') }),
        el('td', { className: 'num', text: String(run.attempts) }),
        el('td', { title: run.createdAt, text: ago(run.createdAt) }),
        el('td', { text: took(run) }),
        el('td', null, [action]),
      ]));
    });
    var from = data.total ? state.offset + 1 : 0, to = Math.min(state.offset + PAGE, data.total);
    $('page-info').textContent = from + '\\u2013' + to + ' of ' + data.total;
    $('prev').disabled = state.offset === 0;
    $('next').disabled = state.offset + PAGE >= data.total;
  }

  function renderChips(counts, all) {
    var chips = $('chips');
    chips.textContent = '';
    function chip(cat, label, n) {
      var c = el('button', { type: 'button', className: 'chip' + (state.category === cat ? ' selected' : '') + (n ? '' : ' empty'),
        'data-category': cat || 'all', onclick: function () { state.category = cat; state.offset = 0; refresh(); } },
        [cat ? el('span', { className: 'swatch cat-' + cat }) : null, label, el('b', { text: String(n) })]);
      chips.appendChild(c);
    }
    chip('', 'all', all);
    CATEGORIES.forEach(function (cat, i) { chip(cat, cat, counts[i]); });
    $('runs-total').textContent = all + ' total';
  }

  function renderDead(list) {
    var body = $('dead-body');
    body.textContent = '';
    $('dead-total').textContent = list.length ? String(list.length) : '';
    if (!list.length) body.appendChild(el('tr', { className: 'empty-row' }, [el('td', { colspan: '7', text: 'no dead letters' })]));
    list.forEach(function (d) {
      body.appendChild(el('tr', { 'data-dead-letter-id': d.id }, [
        el('td', { className: 'mono', title: d.id, text: d.id.length > 12 ? d.id.slice(0, 12) + '\\u2026' : d.id }),
        el('td', { text: d.task }),
        el('td', { className: 'mono', text: d.key }),
        el('td', null, [badge({ status: d.status, category: categoryOf(d.status) })]),
        el('td', { className: 'msg', title: d.statusMessage, text: d.statusMessage }),
        el('td', { title: d.failedAt, text: ago(d.failedAt) }),
        el('td', null, [el('button', { className: 'small', 'data-action': 'retry', text: 'Retry',
          onclick: function (ev) { retryDead(d.id, ev.target); } })]),
      ]));
    });
  }

  var bands = [];
  function categoryOf(code) {
    for (var i = 0; i < bands.length; i++) if (code >= bands[i].min && code <= bands[i].max) return bands[i].category;
    return 'reserved';
  }

  function renderHealth(h) {
    $('api-dot').className = 'dot ok'; $('api-text').textContent = 'ok';
    $('queue-kind').textContent = h.queue;
    $('scanner-dot').className = 'dot ' + h.scanner; $('scanner-state').textContent = h.scanner;
    $('workers').textContent = String(h.workers);
  }

  function renderQueue(q) {
    $('q-depth').textContent = q.depth; $('q-inflight').textContent = q.inFlight;
    $('q-delayed').textContent = q.delayed; $('q-dead').textContent = q.deadLetters;
    $('q-dead-card').className = 'card' + (q.deadLetters ? ' alert' : '');
  }

  function loadTasks() {
    return api('GET', '/tasks').then(function (data) {
      var select = $('start-task'), filter = $('task-filter');
      data.tasks.forEach(function (t) {
        select.appendChild(el('option', { value: t.name, text: t.name }));
        filter.appendChild(el('option', { value: t.name, text: t.name }));
      });
      var info = function () {
        var t = data.tasks.filter(function (x) { return x.name === select.value; })[0];
        $('task-info').textContent = t ? 'retries ' + t.retries + ' \\u00b7 timeout ' + t.timeout + ' ms \\u00b7 retry delay ' + t.retryDelay + ' ms' : '';
      };
      select.addEventListener('change', info); info();
      state.tasksLoaded = true;
    });
  }

  function loadLegend() {
    return api('GET', '/status-codes').then(function (data) {
      bands = data.bands;
      var legend = $('legend'), seen = {};
      data.bands.forEach(function (b) {
        if (b.category === 'reserved') return;
        legend.appendChild(el('span', { className: 'range', text: b.min === b.max ? String(b.min) : b.min + ' \\u2026 ' + b.max }));
        legend.appendChild(el('span', null, [el('span', { className: 'swatch cat-' + b.category }), ' ' + b.description]));
        seen[b.category] = true;
      });
    });
  }

  function runsPath(extra) {
    var q = [];
    if (state.task) q.push('task=' + encodeURIComponent(state.task));
    Object.keys(extra).forEach(function (k) { q.push(k + '=' + encodeURIComponent(extra[k])); });
    return '/runs' + (q.length ? '?' + q.join('&') : '');
  }

  // One poll at a time; a refresh asked for meanwhile (after an action) runs right after it.
  var timer, inFlight = false, again = false;
  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    clearTimeout(timer);
    var list = { limit: PAGE, offset: state.offset };
    if (state.category) list.category = state.category;
    var jobs = [
      api('GET', '/health').then(renderHealth),
      api('GET', '/queue').then(renderQueue),
      api('GET', runsPath(list)).then(renderRuns),
      Promise.all([api('GET', runsPath({ limit: 0 }))].concat(CATEGORIES.map(function (c) {
        return api('GET', runsPath({ category: c, limit: 0 }));
      }))).then(function (answers) {
        renderChips(answers.slice(1).map(function (a) { return a.total; }), answers[0].total);
      }),
      api('GET', '/dead-letters').then(function (d) { renderDead(d.deadLetters); }),
    ];
    if (!state.tasksLoaded) jobs.push(loadTasks(), loadLegend());
    Promise.all(jobs).then(function () {
      $('offline').style.display = 'none';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      document.body.setAttribute('data-refreshed', String(Date.now()));
    }, function (err) {
      $('offline').style.display = 'block';
      $('api-dot').className = 'dot down'; $('api-text').textContent = 'unreachable';
      if (err && err.status) flash(err.message, true);
    }).then(function () {
      inFlight = false;
      if (again) { again = false; refresh(); } else timer = setTimeout(refresh, POLL_MS);
    });
  }

  function cancelRun(id, button) {
    button.disabled = true;
    api('POST', '/runs/' + encodeURIComponent(id) + '/cancel').then(function (d) {
      flash('run ' + d.run.id + ' cancelled: ' + d.run.status + ' ' + d.run.statusMessage);
    }, function (err) { flash('cancel failed: ' + err.message, true); }).then(refresh);
  }

  function retryDead(id, button) {
    button.disabled = true;
    api('POST', '/dead-letters/' + encodeURIComponent(id) + '/retry').then(function (d) {
      flash('dead letter retried as run ' + d.run.id);
    }, function (err) { flash('retry failed: ' + err.message, true); button.disabled = false; }).then(refresh);
  }

  $('start-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var body = {}, text = $('start-params').value.trim(), key = $('start-key').value.trim();
    if (text) {
      try { body.params = JSON.parse(text); }
      catch (e) { flash('params are not valid JSON: ' + e.message, true); return; }
    }
    if (key) body.key = key;
    var button = $('start-button');
    button.disabled = true;
    api('POST', '/tasks/' + encodeURIComponent($('start-task').value) + '/runs', body).then(function (d) {
      flash('run ' + d.run.id + ' started (' + d.run.task + ')');
      $('start-key').value = '';
    }, function (err) { flash('start failed: ' + err.message, true); }).then(function () {
      button.disabled = false;
      refresh();
    });
  });
  $('task-filter').addEventListener('change', function (ev) { state.task = ev.target.value; state.offset = 0; refresh(); });
  $('prev').addEventListener('click', function () { state.offset = Math.max(0, state.offset - PAGE); refresh(); });
  $('next').addEventListener('click', function () { state.offset += PAGE; refresh(); });
  refresh();
})();
</script>
</body>
</html>
`;
