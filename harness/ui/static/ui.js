// The flows page: a service map (workloads as nodes, flows between them as edges coloured by verdict,
// drops in red) laid out by ELK through cytoscape-elk, and a live flow table with a detail panel.
// It talks to `cnilab ui`'s server: /api/pods for the workloads, a WebSocket for the flows.
/* global cytoscape, cytoscapeElk */
'use strict';

cytoscape.use(cytoscapeElk);

const MAX_ROWS = 1000;
const RESERVED = { 1: 'host', 2: 'world', 6: 'remote-node', 7: 'kube-apiserver' };
const TRACE_POINTS = ['to-endpoint', 'to-proxy', 'to-host', 'to-stack', 'to-overlay', 'from-endpoint', 'from-proxy', 'from-host', 'from-stack', 'from-overlay', 'from-network', 'to-network'];

const state = { namespace: '', filters: {}, pods: [], rows: 0, selected: null, ws: null, layoutTimer: null, connected: false, layouts: 0, layoutsDone: 0, watchId: 0, answered: 0 };
const $ = (sel) => document.querySelector(sel);

const cy = cytoscape({
  container: $('#map'),
  wheelSensitivity: 0.3,
  minZoom: 0.2,
  maxZoom: 1.6,
  style: [
    { selector: 'node', style: { label: 'data(label)', 'font-size': 10, 'background-color': '#4a7bd6', width: 22, height: 22, 'text-valign': 'bottom', 'text-margin-y': 3 } },
    { selector: 'node.idle', style: { 'background-color': '#b8c2d3' } },
    { selector: 'node.reserved', style: { shape: 'round-rectangle', 'background-color': '#8a6fd1' } },
    { selector: 'node.has-drops', style: { 'border-width': 3, 'border-color': '#d23b3b' } },
    { selector: 'edge', style: { width: 2, 'line-color': '#2e9b4e', 'target-arrow-color': '#2e9b4e', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', label: 'data(label)', 'font-size': 8, 'text-rotation': 'autorotate', color: '#556' } },
    { selector: 'edge.dropped', style: { width: 4, 'line-color': '#d23b3b', 'target-arrow-color': '#d23b3b', 'line-style': 'dashed' } },
  ],
});

/** The workload a flow endpoint belongs to: a pod, or a reserved identity, or a bare address. */
function workload(ep, ip) {
  if (ep && ep.pod_name) return { id: `${ep.namespace}/${ep.pod_name}`, label: `${ep.namespace}/${ep.pod_name}`, reserved: false };
  const name = RESERVED[ep && ep.identity];
  if (name) return { id: `reserved:${name}`, label: name, reserved: true };
  return { id: `ip:${ip}`, label: ip, reserved: true };
}

function ensureNode(w, idle) {
  let n = cy.getElementById(w.id);
  if (n.empty()) {
    n = cy.add({ group: 'nodes', data: { id: w.id, label: w.label } });
    if (w.reserved) n.addClass('reserved');
    scheduleLayout();
  }
  if (!idle) n.removeClass('idle');
  else if (n.data('flows') === undefined) n.addClass('idle');
  return n;
}

function l4(f) {
  const l = f.l4 || {};
  if (l.TCP) return { proto: 'TCP', src: l.TCP.source_port || 0, dst: l.TCP.destination_port || 0 };
  if (l.UDP) return { proto: 'UDP', src: l.UDP.source_port || 0, dst: l.UDP.destination_port || 0 };
  if (l.ICMPv4) return { proto: 'ICMP' };
  return { proto: '' };
}

function addToMap(f) {
  const s = workload(f.source, f.IP && f.IP.source);
  const d = workload(f.destination, f.IP && f.IP.destination);
  // A reply belongs to the edge of the connection it answers.
  const [from, to] = f.is_reply ? [d, s] : [s, d];
  const p = l4(f);
  const port = f.is_reply ? p.src : p.dst;
  const a = ensureNode(from, false);
  const b = ensureNode(to, false);
  a.data('flows', (a.data('flows') || 0) + 1);
  b.data('flows', (b.data('flows') || 0) + 1);
  const id = `${from.id}->${to.id}:${p.proto}${port ? `/${port}` : ''}`;
  let e = cy.getElementById(id);
  if (e.empty()) {
    e = cy.add({ group: 'edges', data: { id, source: from.id, target: to.id, label: `${p.proto}${port ? ` ${port}` : ''}`, flows: 0, drops: 0 } });
    scheduleLayout();
  }
  e.data('flows', e.data('flows') + 1);
  if (f.verdict === 'DROPPED') {
    e.data('drops', e.data('drops') + 1);
    e.addClass('dropped');
    a.addClass('has-drops');
    b.addClass('has-drops');
  }
}

function scheduleLayout() {
  clearTimeout(state.layoutTimer);
  state.layoutTimer = setTimeout(() => {
    state.layouts++;
    const layout = cy.layout({ name: 'elk', fit: true, padding: 24, nodeDimensionsIncludeLabels: true, elk: { algorithm: 'layered', 'elk.direction': 'RIGHT', 'elk.spacing.nodeNode': 28, 'elk.layered.spacing.nodeNodeBetweenLayers': 90 } });
    layout.one('layoutstop', () => state.layoutsDone++);
    layout.run();
  }, 200);
}

function stamp(t) {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace('T', ' ').slice(5, 23);
}

function typeText(f) {
  if (f.l7) return `${f.l7.http ? 'http' : f.l7.dns ? 'dns' : 'l7'}-${String(f.l7.type).toLowerCase()}`;
  const t = f.event_type || {};
  if (t.type === 4) return TRACE_POINTS[t.sub_type || 0] || `trace:${t.sub_type}`;
  if (t.type === 1) return `drop: ${f.drop_reason_desc || t.sub_type}`;
  if (t.type === 5) return 'policy-verdict';
  return String(t.type);
}

function endpointText(ep, ip) {
  return ep && ep.pod_name ? `${ep.namespace}/${ep.pod_name}` : ip || '';
}

function addRow(r) {
  const tbody = $('#flows tbody');
  const tr = document.createElement('tr');
  if (r.flow) {
    const f = r.flow;
    const p = l4(f);
    tr.className = `flow-row verdict-${f.verdict}`;
    tr.dataset.verdict = f.verdict;
    tr.dataset.source = endpointText(f.source, f.IP && f.IP.source);
    tr.dataset.destination = endpointText(f.destination, f.IP && f.IP.destination);
    const cells = [stamp(f.time), f.node_name, tr.dataset.source, tr.dataset.destination, p.dst ? `${p.proto}/${p.dst}` : p.proto, typeText(f), f.verdict, f.Summary || ''];
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = c;
      if (i === 6) td.className = 'verdict';
      tr.appendChild(td);
    });
    tr.addEventListener('click', () => select(tr, f));
    addToMap(f);
  } else if (r.lost_events) {
    tr.className = 'lost';
    const td = document.createElement('td');
    td.colSpan = 8;
    td.textContent = `${stamp(r.time)} events lost: ${r.lost_events.num_events_lost} (${r.lost_events.source}${r.lost_events.cpu !== undefined ? `, CPU ${r.lost_events.cpu}` : ''})`;
    tr.appendChild(td);
  } else if (r.node_status) {
    const s = r.node_status;
    setStatus(`${s.node_names.join(', ')}: ${s.state_change === 'NODE_UNAVAILABLE' ? 'unavailable' : 'connected'}${s.message ? ` (${s.message})` : ''}`, s.state_change !== 'NODE_CONNECTED');
    return;
  } else return;
  tbody.insertBefore(tr, tbody.firstChild);
  state.rows++;
  while (state.rows > MAX_ROWS) {
    tbody.removeChild(tbody.lastChild);
    state.rows--;
  }
}

function select(tr, f) {
  document.querySelectorAll('tr.selected').forEach((x) => x.classList.remove('selected'));
  tr.classList.add('selected');
  state.selected = f;
  const d = $('#detail');
  d.innerHTML = '';
  const dl = document.createElement('dl');
  const rows = [
    ['Time', f.time], ['Verdict', f.verdict + (f.drop_reason_desc ? ` (${f.drop_reason_desc})` : '')], ['Type', typeText(f)],
    ['Observation point', f.trace_observation_point || '–'], ['Direction', f.traffic_direction || '–'], ['Is reply', f.is_reply === undefined ? 'unknown' : String(f.is_reply)],
    ['Source', `${endpointText(f.source, f.IP.source)} (identity ${f.source.identity || 0})`], ['Destination', `${endpointText(f.destination, f.IP.destination)} (identity ${f.destination.identity || 0})`],
    ['Node', f.node_name], ['Interface', f.interface ? `${f.interface.name || ''} (${f.interface.index})` : '–'], ['Summary', f.Summary || ''],
  ];
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  const pre = document.createElement('pre');
  pre.dataset.testid = 'detail-json';
  pre.textContent = JSON.stringify(f, null, 2);
  d.append(dl, pre);
}

function setStatus(text, bad) {
  const s = $('#status');
  s.textContent = text;
  s.classList.toggle('bad', !!bad);
}

function resetView() {
  $('#flows tbody').innerHTML = '';
  state.rows = 0;
  cy.elements().remove();
  const ns = state.namespace;
  for (const p of state.pods) if (!ns || p.namespace === ns) ensureNode({ id: `${p.namespace}/${p.name}`, label: `${p.namespace}/${p.name}`, reserved: false }, true);
  scheduleLayout();
}

// Every watch is numbered and the server's answer (reset or error) carries the number back: an error
// answering an earlier watch, arriving after a newer one was sent (a namespace picked, then a fixed
// filter applied within one round trip), must not show against the newer one.
function watch() {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  $('#filter-error').textContent = '';
  state.watchId++;
  state.ws.send(JSON.stringify({ type: 'watch', id: state.watchId, namespace: state.namespace || undefined, filters: state.filters, last: 300 }));
}

/** Whether a server message answers the latest watch (messages without an id answer any). */
const current = (m) => m.id === undefined || m.id === state.watchId;

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/flows`);
  state.ws = ws;
  ws.onopen = () => {
    state.connected = true;
    setStatus('live');
    watch();
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'reset') {
      resetView();
      if (current(m)) state.answered = state.watchId;
    } else if (m.type === 'flows') m.items.forEach(addRow);
    else if (m.type === 'error' && current(m)) {
      $('#filter-error').textContent = m.message;
      state.answered = state.watchId;
    }
  };
  ws.onclose = () => {
    state.connected = false;
    setStatus('disconnected, retrying…', true);
    setTimeout(connect, 1000);
  };
}

async function init() {
  const cluster = await (await fetch('/api/cluster')).json();
  $('#cluster').textContent = `cluster ${cluster.name} · ${cluster.nodes.length} nodes · ${cluster.routing}`;
  const { namespaces, pods } = await (await fetch('/api/pods')).json();
  state.pods = pods;
  const sel = $('#namespace');
  for (const n of namespaces) {
    const o = document.createElement('option');
    o.value = n;
    o.textContent = n;
    sel.appendChild(o);
  }
  sel.addEventListener('change', () => {
    state.namespace = sel.value;
    watch();
  });
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    state.filters = Object.fromEntries([...new FormData(e.target).entries()].filter(([, v]) => v !== ''));
    watch();
  });
  resetView();
  connect();
}

// For tests and the curious: what the map shows.
window.cnilabUi = {
  nodes: () => cy.nodes().map((n) => n.id()),
  edges: () => cy.edges().map((e) => ({ id: e.id(), flows: e.data('flows'), drops: e.data('drops'), dropped: e.hasClass('dropped') })),
  connected: () => state.connected,
  /** The latest watch sent, and the latest one the server has answered (a reset or an error). */
  watches: () => ({ sent: state.watchId, answered: state.answered }),
  /** True when the last layout asked for has been applied. */
  laidOut: () => state.layouts > 0 && state.layoutsDone >= state.layouts,
  positions: () => cy.nodes().map((n) => ({ id: n.id(), ...n.renderedPosition() })),
};

init().catch((e) => setStatus(`error: ${e.message}`, true));
