// The dashboard page: follows /events (the server's state after every poll)
// and draws it. Plain script, no build step: uPlot comes from /vendor.
// Everything from the cluster is put in the page as text, never as HTML.
(() => {
  'use strict';

  const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];
  const RING_RADIUS = 100;
  const LABEL_RADIUS = 122;
  const WIDE_ARC_TURNS = 0.08;
  const SVG = 'http://www.w3.org/2000/svg';

  const colour = (id) => COLOURS[id % COLOURS.length];
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const e = tag === 'svg' || tag.startsWith('svg:') ? document.createElementNS(SVG, tag.replace('svg:', '')) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A turn (0..1, clockwise from the top) as a point on a circle.
  function point(turn, r) {
    const a = turn * 2 * Math.PI - Math.PI / 2;
    return [r * Math.cos(a), r * Math.sin(a)];
  }

  function arcPath(from, to, r) {
    if (to - from >= 1) return `M 0 ${-r} A ${r} ${r} 0 1 1 0 ${r} A ${r} ${r} 0 1 1 0 ${-r}`;
    const [x1, y1] = point(from, r);
    const [x2, y2] = point(to, r);
    const large = to - from > 0.5 ? 1 : 0;
    return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${r} ${r} 0 ${large} 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
  }

  function drawRing(view) {
    const svg = $('ring');
    svg.replaceChildren();
    for (const n of view.nodes) {
      const state = n.up ? 'up' : 'down';
      const path = el('svg:path', { class: `arc ${state}`, d: arcPath(n.arc.from, n.arc.to, RING_RADIUS), 'data-node': n.id, 'data-state': state });
      if (n.up) path.setAttribute('stroke', colour(n.id));
      path.appendChild(el('svg:title', {}, `node ${n.id} ${state}: ${n.arc.label}`));
      svg.appendChild(path);
      // A label fits inside a wide arc; a narrow one is labelled outside the ring.
      const inside = n.up && n.arc.to - n.arc.from > WIDE_ARC_TURNS;
      const [x, y] = point((n.arc.from + n.arc.to) / 2, inside ? RING_RADIUS : LABEL_RADIUS);
      const label = el('svg:text', { class: `label ${state}`, x: x.toFixed(1), y: y.toFixed(1) }, n.up ? `${n.id}` : `${n.id} down`);
      if (inside) label.setAttribute('fill', '#fff');
      svg.appendChild(label);
    }
    const up = view.nodes.filter((n) => n.up).length;
    svg.appendChild(el('svg:text', { class: 'centre', x: 0, y: 0 }, `${up} of ${view.nodes.length} up`));
    $('rf').textContent = `replication factor ${view.replicationFactor}; each node owns its arc, and each key is also kept on the next ${view.replicationFactor - 1} clockwise`;
  }

  const number = (x, digits) => (x === null || x === undefined ? '—' : x.toLocaleString('en', { maximumFractionDigits: digits }));

  function ago(ms, now) {
    if (!ms) return '';
    const s = Math.max(0, Math.round((now - ms) / 1000));
    return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
  }

  function nodeRow(n, now) {
    const state = n.up ? 'up' : 'down';
    const tr = el('tr', { 'data-node': n.id, 'data-state': state });
    const first = el('td');
    first.appendChild(el('span', { class: 'swatch', style: `background:${colour(n.id)}` }));
    first.appendChild(document.createTextNode(`${n.id}`));
    tr.appendChild(first);
    tr.appendChild(el('td', {}, n.address));
    const full = n.up && n.diskFull ? ' · DISK FULL' : '';
    // Its state in the ring, when it is not NORMAL: JOINING, LEAVING (a decommission or a removal) or MOVING.
    const ring = n.state && n.state !== 'NORMAL' ? ` · ${n.state}` : '';
    const st = el('td', { class: full ? 'state full' : 'state', title: n.error || (full ? 'its last commit failed: the disk is full; it refuses writes until space is freed' : '') }, `${state} ${ago(n.since, now)}${full}${ring}`);
    tr.appendChild(st);
    tr.appendChild(el('td', {}, n.arc.label));
    tr.appendChild(el('td', { class: 'num' }, number(n.keys, 0)));
    tr.appendChild(el('td', { class: 'num' }, number(n.opsPerSecond, 0)));
    tr.appendChild(el('td', { class: 'num' }, n.p99Ms === null ? '—' : `${number(n.p99Ms, 2)} ms`));
    tr.appendChild(el('td', { class: 'num' }, number(n.slowPerSecond, 1)));
    // Pending hints and the nodes they wait for: "5,525 for 2", or "30 for 1, 12 for 2".
    const hints = n.hints.map((h) => `${number(h.count, 0)} for ${h.target}`).join(', ');
    tr.appendChild(el('td', { class: 'num' }, n.up ? hints || '0' : '—'));
    tr.appendChild(el('td', {}, n.up ? n.downPeers.join(', ') || 'none' : '—'));
    return tr;
  }

  const charts = {};
  // Time axis labels as wall-clock times (uPlot's own show milliseconds over short spans).
  const clockTimes = (u, splits) => splits.map((t) => new Date(t * 1000).toLocaleTimeString('en-GB'));

  // The series drawn for the whole cluster, after the nodes' (the p99 chart's).
  const CLUSTER_SERIES = { label: 'all nodes', stroke: '#222', width: 2.5, dash: [6, 3] };

  function chart(id, view, values, unit, cluster) {
    const box = $(id);
    const data = [view.times, ...values, ...(cluster ? [cluster] : [])];
    // A node joined or left: the chart's series are made afresh, one per node of the ring.
    const names = view.nodes.map((n) => n.id).join(',');
    if (charts[id] !== undefined && charts[id].names !== names) {
      charts[id].destroy();
      charts[id] = undefined;
    }
    if (charts[id] === undefined) {
      const value = (u, v) => (v === null ? '—' : `${v.toFixed(1)} ${unit}`);
      const series = [{}, ...view.nodes.map((n) => ({ label: `node ${n.id}`, stroke: colour(n.id), width: 1.5, spanGaps: false, value }))];
      if (cluster) series.push({ ...CLUSTER_SERIES, spanGaps: false, value });
      const opts = { width: Math.max(300, box.clientWidth), height: 220, series, scales: { y: { range: (u, lo, hi) => [0, Math.max(hi, 1)] } }, axes: [{ values: clockTimes }, { label: unit }] };
      charts[id] = new uPlot(opts, data, box);
      charts[id].names = names;
      if (!box.dataset.resizes) {
        box.dataset.resizes = 'true';
        window.addEventListener('resize', () => charts[id]?.setSize({ width: Math.max(300, box.clientWidth), height: 220 }));
      }
    } else charts[id].setData(data);
  }

  function list(id, items, empty) {
    const ul = $(id);
    ul.replaceChildren(...(items.length ? items : [empty]).map((t) => el('li', items.length ? {} : { class: 'none' }, t)));
  }

  function drawDivergent(d) {
    const text = $('divergent');
    $('scan').disabled = d !== null && d.at === null;
    if (d === null) return;
    if (d.at === null) text.textContent = 'scanning…';
    else if (d.error) text.textContent = `the scan failed: ${d.error}`;
    else text.textContent = `${d.count} divergent key(s) at ${new Date(d.at).toLocaleTimeString()}${d.count > d.keys.length ? `; the first ${d.keys.length}:` : ''}`;
    $('divergent-keys').replaceChildren(...(d.at === null ? [] : d.keys.map((k) => el('li', {}, k))));
  }

  function render(view) {
    drawRing(view);
    $('nodes').replaceChildren(...view.nodes.map((n) => nodeRow(n, view.at)));
    $('cluster-ops').textContent = number(view.cluster.opsPerSecond, 0);
    $('cluster-p99').textContent = view.cluster.p99Ms === null ? '—' : `${number(view.cluster.p99Ms, 2)} ms`;
    chart('ops', view, view.opsPerSecond, 'ops/s');
    $('p99-none').hidden = view.latency;
    $('p99').hidden = !view.latency;
    if (view.latency) chart('p99', view, view.p99Ms, 'ms', view.clusterP99Ms);
    list('operations', view.operations, 'none');
    drawDivergent(view.divergent);
    $('updated').textContent = `updated ${new Date(view.at).toLocaleTimeString()}`;
    document.body.dataset.ready = 'true';
  }

  function follow() {
    const link = $('link');
    const events = new EventSource('/events');
    events.onopen = () => {
      link.dataset.state = 'live';
      link.textContent = 'live';
    };
    events.onerror = () => {
      link.dataset.state = 'lost';
      link.textContent = 'dashboard server lost: retrying…';
    };
    events.onmessage = (e) => render(JSON.parse(e.data));
  }

  $('scan').addEventListener('click', () => {
    $('scan').disabled = true;
    fetch('/api/divergent', { method: 'POST' }).catch(() => {
      $('scan').disabled = false;
    });
  });
  follow();
})();
