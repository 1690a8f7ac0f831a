// ferry topology page: polls the REST API and draws chassis, gateways and
// tunnels as an SVG map, the switches in a side list and the selected
// switch's realization, ports and bindings in a details panel.
//
// Plain JavaScript, no dependency, no build step. Everything shown comes
// from the API as data and is put in the page with textContent and
// setAttribute only, never as markup: names are the operator's input.
//
// Drawn elements carry data attributes a test (or a script) can read:
// data-node/data-kind/data-state/data-carrier on devices, data-tunnel/
// data-state/data-highlight on tunnels, data-switch/data-realized on
// switches, data-port/data-bound on ports.
'use strict';

(() => {
  const POLL_MS = 2000;
  const TOKEN_KEY = 'ferry.token';
  const SVG = 'http://www.w3.org/2000/svg';
  // The page is served at /ui/: the API is beside it, whatever prefix a
  // reverse proxy puts in front.
  const API = new URL('../v1/', location.href);
  const $ = (id) => document.getElementById(id);

  const view = {
    data: null, // the last complete poll
    signature: '', // its JSON, to redraw only on change
    selected: null, // switch name
    timer: 0,
    polling: false,
    again: false,
    polls: 0,
  };

  // ---- token -------------------------------------------------------------

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }

  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token lives only until reload */ memoryToken = t; }
  }
  let memoryToken = '';
  const currentToken = () => token() || memoryToken;

  // readHash takes #token=… (stored, then removed from the address bar so
  // that it is not bookmarked, shared or kept in history) and #switch=….
  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const t = params.get('token');
    if (t) {
      setToken(t);
      params.delete('token');
    }
    view.selected = params.get('switch') || null;
    writeHash();
  }

  function writeHash() {
    const params = new URLSearchParams();
    if (view.selected) params.set('switch', view.selected);
    const h = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (h ? '#' + h : ''));
  }

  function showTokenPanel(why) {
    $('token-why').textContent = why;
    $('token-panel').hidden = false;
    $('token-input').value = '';
    $('token-input').focus();
  }

  function hideTokenPanel() { $('token-panel').hidden = true; }

  // ---- API ---------------------------------------------------------------

  class AuthError extends Error {}

  async function get(path) {
    const headers = { Accept: 'application/json' };
    const t = currentToken();
    if (t) headers.Authorization = 'Bearer ' + t;
    const resp = await fetch(new URL(path, API), { headers, cache: 'no-store', credentials: 'omit' });
    let body = null;
    try { body = await resp.json(); } catch (e) { /* not JSON: reported below */ }
    if (resp.status === 401) throw new AuthError((body && body.error) || 'authentication required');
    if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}${body && body.error ? ': ' + body.error : ''}`);
    return body;
  }

  const enc = encodeURIComponent;

  async function poll() {
    if (view.polling) { view.again = true; return; }
    view.polling = true;
    clearTimeout(view.timer);
    const selected = view.selected;
    try {
      const [switches, chassis, gateways] = await Promise.all([get('switches'), get('chassis'), get('gateways')]);
      let ports = null;
      let bindings = null;
      if (selected && switches.some((s) => s.name === selected)) {
        [ports, bindings] = await Promise.all([
          get(`switches/${enc(selected)}/ports`), get(`switches/${enc(selected)}/bindings`)]);
      }
      hideTokenPanel();
      view.polls++;
      document.body.dataset.polls = String(view.polls);
      setStatus('ok', `live · updated ${new Date().toLocaleTimeString()}`);
      update({ switches, chassis, gateways, ports, bindings, selected });
    } catch (e) {
      if (e instanceof AuthError) {
        setStatus('auth', currentToken() ? 'token refused' : 'token required');
        if ($('token-panel').hidden) {
          showTokenPanel(currentToken()
            ? `ferryd refused the token (${e.message}). Enter a valid reader or admin token.`
            : 'ferryd runs with --api-tokens: this page needs a token to read the network (a reader token is enough).');
        }
      } else {
        setStatus('error', `ferryd unreachable: ${e.message}`);
      }
    } finally {
      view.polling = false;
      if (view.again) {
        view.again = false;
        poll();
      } else {
        view.timer = setTimeout(poll, document.hidden ? POLL_MS * 5 : POLL_MS);
      }
    }
  }

  function setStatus(state, text) {
    document.body.dataset.state = state;
    $('status-text').textContent = text;
  }

  function update(data) {
    const sig = JSON.stringify(data);
    if (sig === view.signature) return;
    view.signature = sig;
    view.data = data;
    render();
  }

  function select(name) {
    view.selected = name;
    writeHash();
    render();
    poll(); // fetch the switch's ports and bindings now
  }

  // ---- DOM helpers -------------------------------------------------------

  function h(tag, attrs, ...children) { return build(document.createElement(tag), attrs, children); }
  function s(tag, attrs, ...children) { return build(document.createElementNS(SVG, tag), attrs, children); }

  function build(node, attrs, children) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return node;
  }

  function badge(kind, text) { return h('span', { class: 'badge ' + kind }, text); }

  // ---- model -------------------------------------------------------------

  function chassisState(c) {
    const st = c.status || {};
    if (st.ovsdb_connected && st.openflow_connected) return 'connected';
    if (st.ovsdb_connected || st.openflow_connected) return 'partial';
    return 'disconnected';
  }

  function gatewayFaults(g) {
    const st = g.status || {};
    const out = (st.faults || []).map((f) => f);
    for (const p of st.ports || []) for (const f of p.faults || []) out.push(`${p.name}: ${f}`);
    return out;
  }

  function devices(data) {
    const list = [];
    for (const c of data.chassis) {
      const st = c.status || {};
      list.push({
        name: c.name, kind: 'chassis', state: chassisState(c),
        sub: [c.kind, c.tunnel_ip].filter(Boolean).join(' · '),
        problem: st.conflict || st.last_error || '',
      });
    }
    for (const g of data.gateways) {
      const st = g.status || {};
      const faults = gatewayFaults(g);
      list.push({
        name: g.name, kind: 'gateway', state: st.connected ? 'connected' : 'disconnected',
        sub: ['vtep', (st.tunnel_ips || [])[0] || g.physical_switch].filter(Boolean).join(' · '),
        problem: [st.conflict, st.last_error, ...faults].filter(Boolean).join('; '),
        faults: faults.length,
      });
    }
    return list;
  }

  // tunnels merges the switches' tunnel pairs: one edge per pair and
  // encapsulation, with the switches it carries and the worst state any
  // switch reports for it.
  function tunnels(data) {
    const rank = { down: 2, unknown: 1, up: 0 };
    const byKey = new Map();
    for (const sw of data.switches) {
      for (const t of (sw.status && sw.status.tunnels) || []) {
        const [a, b] = [t.a, t.b].sort();
        const key = `${a}\u0000${b}\u0000${t.encap}`;
        const state = t.state || 'unknown';
        let e = byKey.get(key);
        if (!e) {
          e = { a, b, encap: t.encap || 'none', state, switches: new Set() };
          byKey.set(key, e);
        }
        if ((rank[state] ?? 1) > (rank[e.state] ?? 1)) e.state = state;
        e.switches.add(sw.name);
      }
    }
    return [...byKey.values()];
  }

  function selectedSwitch() {
    const d = view.data;
    return (d && view.selected && d.switches.find((x) => x.name === view.selected)) || null;
  }

  function carriersOf(sw) {
    const set = new Set();
    if (!sw) return set;
    for (const c of sw.status.chassis || []) set.add(c.name);
    for (const g of sw.status.gateways || []) set.add(g.name);
    for (const t of sw.status.tunnels || []) { set.add(t.a); set.add(t.b); }
    return set;
  }

  // ---- rendering ---------------------------------------------------------

  function render() {
    const data = view.data;
    if (!data) return;
    const sw = selectedSwitch();
    if (view.selected && !sw) { // deleted meanwhile
      view.selected = null;
      writeHash();
    }
    renderSwitches(data, sw);
    renderMap(data, sw);
    renderDetails(data, sw);
  }

  function renderSwitches(data, sel) {
    const list = $('switches');
    list.replaceChildren(...data.switches.map((x) => {
      const st = x.status;
      const realized = st.realized ? badge('ok', 'realized') : badge('warn', 'pending');
      return h('li', {},
        h('button', {
          type: 'button', class: 'switch', 'data-switch': x.name, 'data-realized': String(st.realized),
          'aria-pressed': String(!!sel && sel.name === x.name),
        },
        h('span', { class: 'name' }, x.name), realized,
        h('span', { class: 'meta' }, `VNI ${x.vni} · ${x.encap} · ${st.ports_bound}/${x.ports.length} ports bound`)));
    }));
    $('switch-count').textContent = `(${data.switches.length})`;
    $('no-switches').hidden = data.switches.length > 0;
    $('clear-selection').hidden = !sel;
  }

  const NODE_W = 168;
  const NODE_H = 62;
  const LABEL_H = 20;

  // layout puts the devices on an ellipse shaped like the map pane,
  // chassis first then gateways, each group in name order; it returns
  // their centres and the viewBox that fits them.
  function layout(nodes, aspect) {
    const pos = new Map();
    const n = nodes.length;
    const r = Math.max(270, n * 60);
    const rx = n === 2 ? r : r * Math.sqrt(aspect);
    const ry = n === 2 ? 0 : r / Math.sqrt(aspect);
    nodes.forEach((node, i) => {
      const a = n === 1 ? 0 : -Math.PI / 2 + (2 * Math.PI * i) / n + (n === 2 ? Math.PI / 2 : 0);
      pos.set(node.name, n === 1 ? { x: 0, y: 0 } : { x: rx * Math.cos(a), y: ry * Math.sin(a) });
    });
    let [x0, y0, x1, y1] = [-NODE_W, -NODE_H, NODE_W, NODE_H];
    for (const p of pos.values()) {
      x0 = Math.min(x0, p.x - NODE_W / 2); x1 = Math.max(x1, p.x + NODE_W / 2);
      y0 = Math.min(y0, p.y - NODE_H / 2); y1 = Math.max(y1, p.y + NODE_H / 2);
    }
    const pad = 40;
    let [w, h] = [x1 - x0 + 2 * pad, y1 - y0 + 2 * pad];
    // Never zoom in past 1.4× the natural size (one or two devices).
    w = Math.max(w, 640); h = Math.max(h, 400);
    if (w / h < aspect) w = h * aspect; else h = w / aspect;
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    return { pos, viewBox: [cx - w / 2, cy - h / 2, w, h].map((v) => v.toFixed(1)).join(' ') };
  }

  function overlaps(a, b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  }

  // labelAt finds a spot on the curve for an edge's label that overlaps
  // no device and no other label, trying the middle first.
  function labelAt(p0, q, p1, w, taken) {
    const at = (t) => ({
      x: (1 - t) * (1 - t) * p0.x + 2 * (1 - t) * t * q.x + t * t * p1.x,
      y: (1 - t) * (1 - t) * p0.y + 2 * (1 - t) * t * q.y + t * t * p1.y,
    });
    let best = null;
    const tries = [0.5];
    for (let d = 0.04; d <= 0.36; d += 0.04) tries.push(0.5 - d, 0.5 + d);
    for (const t of tries) {
      const c = at(t);
      const box = { x: c.x - w / 2 - 3, y: c.y - LABEL_H / 2 - 3, w: w + 6, h: LABEL_H + 6 };
      if (!best) best = { c, box };
      if (!taken.some((b) => overlaps(b, box))) { best = { c, box }; break; }
    }
    taken.push(best.box);
    return best.c;
  }

  function renderMap(data, sel) {
    const svg = $('map');
    const nodes = devices(data);
    const rect = svg.getBoundingClientRect();
    const aspect = rect.width > 0 && rect.height > 0 ? rect.width / rect.height : 1.4;
    const { pos, viewBox } = layout(nodes, aspect);
    svg.setAttribute('viewBox', viewBox);
    const edges = tunnels(data);
    const carriers = carriersOf(sel);
    const children = [];

    if (nodes.length === 0) {
      children.push(s('text', { x: 0, y: 0, 'text-anchor': 'middle', class: 'map-empty' },
        'No chassis or gateways registered yet (ferryctl chassis add …).'));
    }

    // Labels avoid the devices and each other.
    const taken = [...pos.values()].map((p) => ({ x: p.x - NODE_W / 2, y: p.y - NODE_H / 2, w: NODE_W, h: NODE_H }));
    // Pairs with several encapsulations bend apart.
    const pairCount = new Map();
    const edgeLayer = s('g', { class: 'tunnels' });
    const labelLayer = s('g', { class: 'tunnel-labels' });
    for (const e of edges) {
      const pa = pos.get(e.a);
      const pb = pos.get(e.b);
      if (!pa || !pb) continue;
      const pair = `${e.a}\u0000${e.b}`;
      const k = pairCount.get(pair) || 0;
      pairCount.set(pair, k + 1);
      const bend = k === 0 ? 0 : (k % 2 ? 1 : -1) * Math.ceil(k / 2) * 36;
      const len = Math.hypot(pb.x - pa.x, pb.y - pa.y) || 1;
      const q = {
        x: (pa.x + pb.x) / 2 - ((pb.y - pa.y) / len) * bend * 2,
        y: (pa.y + pb.y) / 2 + ((pb.x - pa.x) / len) * bend * 2,
      };
      const on = sel ? e.switches.has(sel.name) : false;
      const label = `${e.encap} · ${e.state}`;
      const lw = label.length * 6.6 + 14;
      const l = labelAt(pa, q, pb, lw, taken);
      const common = {
        class: 'tunnel' + (sel && !on ? ' dim' : ''), 'data-state': e.state, 'data-highlight': String(on),
      };
      const swList = [...e.switches].sort().join(', ');
      edgeLayer.append(s('g', {
        ...common, 'data-tunnel': `${e.a}-${e.b}`, 'data-a': e.a, 'data-b': e.b,
        'data-encap': e.encap, 'data-switches': [...e.switches].sort().join(' '),
      },
      s('title', {}, `tunnel ${e.a} ↔ ${e.b} (${e.encap}): BFD ${e.state}; carries ${swList}`),
      s('path', { d: `M${pa.x},${pa.y} Q${q.x},${q.y} ${pb.x},${pb.y}` })));
      labelLayer.append(s('g', { ...common, 'data-tunnel-label': `${e.a}-${e.b}` },
        s('title', {}, `tunnel ${e.a} ↔ ${e.b} (${e.encap}): BFD ${e.state}; carries ${swList}`),
        s('g', { class: 'label' },
          s('rect', { x: l.x - lw / 2, y: l.y - LABEL_H / 2, width: lw, height: LABEL_H, rx: 10 }),
          s('text', { x: l.x, y: l.y + 4, 'text-anchor': 'middle' }, label))));
    }
    children.push(edgeLayer, labelLayer);
    // Ports of the selected switch bound on each chassis.
    const boundOn = new Map();
    if (sel && view.data.ports && view.data.selected === sel.name) {
      for (const p of view.data.ports) {
        if (p.status && p.status.bound) boundOn.set(p.status.chassis, (boundOn.get(p.status.chassis) || 0) + 1);
      }
    }

    const nodeLayer = s('g', { class: 'nodes' });
    for (const node of nodes) {
      const p = pos.get(node.name);
      const x = p.x - NODE_W / 2;
      const y = p.y - NODE_H / 2;
      const carrier = carriers.has(node.name);
      const g = s('g', {
        class: 'node' + (sel && !carrier ? ' dim' : ''), 'data-node': node.name, 'data-kind': node.kind,
        'data-state': node.state, 'data-carrier': String(carrier), transform: `translate(${x},${y})`,
      },
      s('title', {}, `${node.kind} ${node.name}: ${node.state}${node.problem ? ' — ' + node.problem : ''}`),
      s('rect', { class: 'halo', x: -4, y: -4, width: NODE_W + 8, height: NODE_H + 8, rx: 12 }),
      s('rect', { class: 'body', width: NODE_W, height: NODE_H, rx: 9 }),
      icon(node.kind),
      s('text', { class: 'name', x: 44, y: 26 }, clip(node.name, 14)),
      s('text', { class: 'sub', x: 44, y: 44 }, clip(node.sub, 22)));
      const n = boundOn.get(node.name);
      if (n) {
        const text = `${n} port${n > 1 ? 's' : ''}`;
        const w = text.length * 6.5 + 12;
        g.append(s('g', { class: 'pill', 'data-ports': String(n) },
          s('rect', { x: NODE_W - w / 2 - 12, y: -10, width: w, height: 18, rx: 9 }),
          s('text', { x: NODE_W - 12, y: 3, 'text-anchor': 'middle' }, text)));
      }
      if (node.problem) {
        g.append(s('g', { class: 'alert', 'data-problem': node.problem },
          s('circle', { cx: 2, cy: 2, r: 9 }), s('text', { x: 2, y: 6.5, 'text-anchor': 'middle' }, '!')));
      }
      nodeLayer.append(g);
    }
    children.push(nodeLayer);
    svg.replaceChildren(...children);
  }

  function icon(kind) {
    if (kind === 'gateway') {
      // a top-of-rack switch: a flat box with ports
      return s('g', { class: 'icon', transform: 'translate(12,21)' },
        s('rect', { width: 24, height: 14, rx: 2 }),
        [4, 9, 14, 19].map((px) => s('rect', { class: 'fill', x: px, y: 8, width: 3, height: 3 })));
    }
    // a server: two stacked units
    return s('g', { class: 'icon', transform: 'translate(13,16)' },
      s('rect', { width: 22, height: 12, rx: 2 }), s('rect', { y: 15, width: 22, height: 12, rx: 2 }),
      s('circle', { class: 'fill', cx: 17, cy: 6, r: 1.6 }), s('circle', { class: 'fill', cx: 17, cy: 21, r: 1.6 }));
  }

  function clip(text, n) { return text.length > n ? text.slice(0, n - 1) + '…' : text; }

  function table(head, rows, empty) {
    if (rows.length === 0) return h('p', { class: 'none' }, empty);
    return h('table', {}, h('thead', {}, h('tr', {}, head.map((x) => h('th', {}, x)))), h('tbody', {}, rows));
  }

  function stateBadge(state) {
    return badge({ up: 'ok', connected: 'ok', down: 'bad', disconnected: 'bad', partial: 'warn' }[state] || 'unknown', state);
  }

  function renderDetails(data, sel) {
    const pane = $('details');
    pane.replaceChildren(...(sel ? switchDetails(data, sel) : overview(data)));
  }

  function switchDetails(data, sw) {
    const st = sw.status;
    const out = [
      h('h3', { 'data-selected-switch': sw.name }, `Switch ${sw.name}`,
        st.realized ? badge('ok', 'realized') : badge('warn', 'pending')),
      h('p', { class: 'facts' }, `VNI ${sw.vni} · ${sw.encap} · guest MTU ${st.mtu || '—'} · generation ${sw.generation}`),
    ];

    const kinds = new Map(devices(data).map((d) => [d.name, d]));
    const realRows = [
      ...(st.chassis || []).map((c) => ({ ...c, kind: 'chassis' })),
      ...(st.gateways || []).map((g) => ({ ...g, kind: 'gateway' })),
    ].map((c) => h('tr', { 'data-device': c.name, 'data-realized': String(c.realized) },
      h('td', {}, c.name, h('div', { class: 'none' }, c.kind)),
      h('td', { class: 'num' }, String(c.realized_generation)),
      h('td', {}, c.realized ? badge('ok', 'realized') : badge('warn', 'behind'),
        kinds.get(c.name) && kinds.get(c.name).state !== 'connected' ? [' ', stateBadge(kinds.get(c.name).state)] : null)));
    out.push(h('h2', {}, 'Realization per device'),
      table(['Device', 'Realized generation', 'State'], realRows, 'No device carries this switch yet (no port bound, no gateway binding).'));

    out.push(h('h2', {}, `Ports (${st.ports_bound}/${sw.ports.length} bound)`));
    if (data.selected !== sw.name || !data.ports) {
      out.push(h('p', { class: 'none' }, 'loading…'));
    } else {
      out.push(table(['Port', 'Bound to', 'State'], data.ports.map((p) => {
        const ps = p.status || {};
        const where = ps.bound
          ? [ps.chassis, h('div', { class: 'none mono' }, [ps.interface, ps.ofport ? `ofport ${ps.ofport}` : ''].filter(Boolean).join(' · '))]
          : [h('span', { class: 'none' }, '—')];
        return h('tr', { 'data-port': p.name, 'data-bound': String(!!ps.bound), 'data-chassis': ps.chassis || null },
          h('td', {}, p.name, h('div', { class: 'none mono' }, p.iface_id)),
          h('td', {}, where),
          h('td', {}, ps.bound ? badge('ok', 'bound') : badge('bad', 'unbound'),
            ps.reason ? h('div', { class: 'reason', 'data-reason': ps.reason }, ps.reason) : null));
      }), 'No ports.'));
    }

    if ((st.gateways || []).length || (data.bindings && data.bindings.length)) {
      out.push(h('h2', {}, 'Gateway bindings'));
      const gws = new Map((st.gateways || []).map((g) => [g.name, g]));
      const rows = (data.selected === sw.name && data.bindings ? data.bindings : []).map((b) => h('tr',
        { 'data-binding': `${b.gateway}/${b.port}/${b.vlan}` },
        h('td', {}, b.gateway), h('td', { class: 'mono' }, b.port), h('td', { class: 'num' }, b.vlan === 0 ? 'untagged' : String(b.vlan)),
        h('td', {}, gws.has(b.gateway) && gws.get(b.gateway).replication_mode
          ? `${gws.get(b.gateway).replication_mode}${gws.get(b.gateway).replicator ? ' via ' + gws.get(b.gateway).replicator : ''}` : '')));
      out.push(table(['Gateway', 'Port', 'VLAN', 'Flooding'], rows, 'loading…'));
    }

    out.push(h('h2', {}, 'Tunnels'), table(['Between', 'Encap', 'BFD'], (st.tunnels || []).map((t) => h('tr',
      { 'data-tunnel': `${t.a}-${t.b}`, 'data-state': t.state || 'unknown' },
      h('td', {}, `${t.a} ↔ ${t.b}`), h('td', {}, t.encap || 'none (no common encapsulation)'),
      h('td', {}, stateBadge(t.state || 'unknown')))), 'No tunnels: fewer than two devices carry this switch.'));
    return out;
  }

  function overview(data) {
    const bySwitch = new Map(); // gateway → switches it has bindings of
    for (const sw of data.switches) {
      for (const g of sw.status.gateways || []) {
        if (!bySwitch.has(g.name)) bySwitch.set(g.name, []);
        bySwitch.get(g.name).push(`${sw.name}${g.realized ? '' : ' (pending)'}`);
      }
    }
    const down = tunnels(data).filter((t) => t.state === 'down');
    const out = [
      h('h3', {}, 'Network'),
      h('p', { class: 'facts' }, `${data.chassis.length} chassis · ${data.gateways.length} gateways · ` +
        `${data.switches.length} switches · ${down.length} tunnels down. Select a switch to see its carriers.`),
    ];
    if (down.length) {
      out.push(h('h2', {}, 'Tunnels down'), table(['Between', 'Encap', 'Switches'], down.map((t) => h('tr',
        { 'data-tunnel': `${t.a}-${t.b}`, 'data-state': t.state },
        h('td', {}, `${t.a} ↔ ${t.b}`), h('td', {}, t.encap), h('td', {}, [...t.switches].sort().join(', ')))), ''));
    }
    out.push(h('h2', {}, 'Chassis'), table(['Name', 'OVSDB · OpenFlow', 'Realized'], data.chassis.map((c) => {
      const st = c.status || {};
      return h('tr', { 'data-chassis': c.name, 'data-state': chassisState(c) },
        h('td', {}, c.name, h('div', { class: 'none' }, [c.kind, c.tunnel_ip].filter(Boolean).join(' · '))),
        h('td', {}, st.ovsdb_connected ? badge('ok', 'ovsdb') : badge('bad', 'ovsdb'), ' ',
          st.openflow_connected ? badge('ok', 'openflow') : badge('bad', 'openflow'),
          st.conflict ? h('div', { class: 'error-text' }, st.conflict) : null,
          st.last_error ? h('div', { class: 'error-text' }, st.last_error) : null),
        h('td', { class: 'num' }, `gen ${st.realized_generation}`, h('div', { class: 'none' }, `${st.flows} flows`)));
    }), 'No chassis registered.'));
    out.push(h('h2', {}, 'Gateways'), table(['Name', 'State', 'Switches'], data.gateways.map((g) => {
      const st = g.status || {};
      const faults = gatewayFaults(g);
      return h('tr', { 'data-gateway': g.name, 'data-state': st.connected ? 'connected' : 'disconnected', 'data-faults': String(faults.length) },
        h('td', {}, g.name, h('div', { class: 'none' }, [g.physical_switch || st.physical_switch, ...(st.tunnel_ips || [])].filter(Boolean).join(' · '))),
        h('td', {}, stateBadge(st.connected ? 'connected' : 'disconnected'),
          h('div', { class: 'none' }, `${st.local_macs} local · ${st.remote_macs} remote MACs`),
          faults.map((f) => h('div', { class: 'error-text', 'data-fault': f }, `fault: ${f}`)),
          st.last_error ? h('div', { class: 'error-text' }, st.last_error) : null),
        h('td', {}, (bySwitch.get(g.name) || ['—']).join(', ')));
    }), 'No gateways registered.'));
    return out;
  }

  // ---- wiring ------------------------------------------------------------

  function init() {
    readHash();
    $('switches').addEventListener('click', (ev) => {
      const b = ev.target.closest('[data-switch]');
      if (!b) return;
      const name = b.getAttribute('data-switch');
      select(view.selected === name ? null : name);
    });
    $('clear-selection').addEventListener('click', () => select(null));
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && $('token-panel').hidden && view.selected) select(null);
    });
    $('token-button').addEventListener('click', () => showTokenPanel(
      'The bearer token this page sends to ferryd (a reader token is enough).'));
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      setToken($('token-input').value.trim());
      hideTokenPanel();
      poll();
    });
    $('token-cancel').addEventListener('click', hideTokenPanel);
    $('token-forget').addEventListener('click', () => {
      setToken('');
      memoryToken = '';
      hideTokenPanel();
      poll();
    });
    window.addEventListener('hashchange', () => { readHash(); render(); poll(); });
    let resizing = 0;
    window.addEventListener('resize', () => {
      clearTimeout(resizing);
      resizing = setTimeout(render, 150);
    });
    document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
    poll();
  }

  init();
})();
