// Live updates of the home page: polls the node's status once a second and adds new blocks
// and transactions to the tables without a reload. Every value is set as text, never as HTML.
(function () {
  'use strict';
  var status = document.getElementById('status');
  if (!status) return;
  var url = status.getAttribute('data-live');
  var table = document.getElementById('latest-blocks');
  var prefix = table ? table.getAttribute('data-prefix') : '';
  var KEEP = 10;

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el && value !== null && value !== undefined) el.textContent = String(value);
  }

  function cell(row, text, href, cls) {
    var td = document.createElement('td');
    if (href) {
      var a = document.createElement('a');
      a.href = href;
      a.textContent = String(text);
      if (cls) a.className = cls;
      td.appendChild(a);
    } else {
      td.textContent = String(text);
      if (cls) td.className = cls;
    }
    row.appendChild(td);
  }

  function addBlocks(blocks) {
    if (!table) return;
    var body = table.tBodies[0];
    var newest = -1;
    var first = body.querySelector('tr[data-block]');
    if (first) newest = Number(first.getAttribute('data-block'));
    blocks.slice().reverse().forEach(function (b) {
      if (b.number <= newest) return;
      var row = document.createElement('tr');
      row.setAttribute('data-block', String(b.number));
      row.className = 'fresh';
      cell(row, b.number, prefix + '/s/0/block/' + b.number);
      cell(row, b.short, null, 'hash');
      cell(row, b.txs);
      cell(row, b.time);
      body.insertBefore(row, body.firstChild);
      newest = b.number;
    });
    var rows = body.querySelectorAll('tr[data-block]');
    for (var i = KEEP; i < rows.length; i++) rows[i].remove();
  }

  function addTxs(txs) {
    var t = document.getElementById('latest-txs');
    if (!t || !txs.length) return;
    var body = t.tBodies[0];
    var known = {};
    body.querySelectorAll('tr[data-tx]').forEach(function (r) { known[r.getAttribute('data-tx')] = true; });
    var fresh = txs.filter(function (x) { return !known[x.hash]; });
    if (!fresh.length) return;
    body.querySelectorAll('tr:not([data-tx])').forEach(function (r) { r.remove(); });
    fresh.slice().reverse().forEach(function (x) {
      var row = document.createElement('tr');
      row.setAttribute('data-tx', x.hash);
      row.className = 'fresh';
      cell(row, x.short, prefix + '/s/0/tx/' + x.hash, 'hash');
      cell(row, x.from, prefix + '/s/0/address/' + x.from, 'hash');
      cell(row, x.block);
      body.insertBefore(row, body.firstChild);
    });
    var rows = body.querySelectorAll('tr[data-tx]');
    for (var i = KEEP; i < rows.length; i++) rows[i].remove();
  }

  function apply(s) {
    (s.chains || []).forEach(function (c) {
      setText('height-' + c.shard, c.height);
      setText('ctps-' + c.shard, c.ctps);
      setText('interval-' + c.shard, c.interval);
      setText('pending-' + c.shard, c.pending);
      setText('indexed-' + c.shard, c.indexed);
      if (c.finality) {
        setText('finality-p50-' + c.shard, c.finality.p50);
        setText('finality-p99-' + c.shard, c.finality.p99);
      }
    });
    setText('beacon-height', s.beaconHeight);
    setText('epoch', s.epoch);
    if (s.members) setText('peers', s.peers + 1);
    addBlocks(s.blocks || []);
    addTxs(s.txs || []);
  }

  var busy = false;
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url, { headers: { accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s) apply(s); })
      .catch(function () { /* the node is restarting: try again next tick */ })
      .then(function () { busy = false; });
  }
  setInterval(poll, 1000);
})();
