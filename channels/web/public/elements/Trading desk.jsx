import { useEffect, useState } from "react"
import { Button } from "@/components/ui/button"

// The trading desk (channels/web/desk.py makes its props): the account strip, the trading
// state with Halt / Resume, position cards and pending orders. It asks the server for fresh
// figures every props.poll_ms while it is shown. Every button only proposes a ticket in the
// chat (or halts / resumes): nothing is sent before the trader approves that ticket.
const STATE_COLORS = { ACTIVE: "#16a34a", REDUCING: "#d97706", HALTED: "#dc2626" };
const TONES = { up: "#16a34a", down: "#dc2626", flat: "inherit" };

// The page mounts the element again whenever a message arrives (it re-renders custom elements
// from scratch): the last figures, what the trader is typing into a card's form, and whether
// the phone's lists are open outlive that.
const kept = (window.__companionDesk = window.__companionDesk || {});

export default function TradingDesk() {
  const [desk, setDeskState] = useState(kept.desk || props);
  const setDesk = (next) => { kept.desk = next; setDeskState(next); };
  const [stale, setStale] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form, setFormState] = useState(kept.form || null);  // {kind, ticket, sl, tp, pips, volume}
  const [open, setOpenState] = useState(kept.open ?? !props.phone);
  const setForm = (next) => { kept.form = next; setFormState(next); };
  const setOpen = (next) => { kept.open = next; setOpenState(next); };

  const refresh = async () => {
    try {
      const res = await apiClient.post("/companion/desk", { phone: !!props.phone });
      setDesk(await res.json());
      setStale(false);
    } catch (e) {
      setStale(true);
    }
  };
  useEffect(() => {
    refresh();  // the props may be older than this mount
    const timer = setInterval(refresh, props.poll_ms || 2000);
    return () => clearInterval(timer);
  }, []);

  const act = async (name, payload) => {
    setBusy(true);
    try { await callAction({ name, payload: payload || {} }); }
    finally { setBusy(false); setForm(null); refresh(); }
  };
  const halted = desk.state === "HALTED";
  const phone = !!desk.phone;
  const field = { width: "6.5rem", padding: "2px 6px", borderRadius: 4,
                  border: "1px solid rgba(128,128,128,.5)", background: "transparent" };

  const strip = (
    <div id="desk-strip" style={{ display: "grid", gap: 6,
         gridTemplateColumns: `repeat(auto-fit, minmax(${phone ? 96 : 120}px, 1fr))` }}>
      {desk.strip.map((cell) => (
        <div key={cell.id} style={{ minWidth: 0 }}>
          <div style={{ fontSize: 11, opacity: 0.7 }}>{cell.label}</div>
          <div id={`desk-${cell.id}`} style={{ fontWeight: 600, fontSize: phone ? 12 : 14,
               color: TONES[cell.tone] || "inherit", whiteSpace: "nowrap" }}>{cell.value}</div>
        </div>
      ))}
    </div>
  );

  const stateRow = (
    <div style={{ display: "flex", gap: 8, alignItems: "center", flexWrap: "wrap" }}>
      <span id="trading-state-badge" data-state={desk.state}
            style={{ background: STATE_COLORS[desk.state] || "#6b7280", color: "white",
                     fontWeight: 700, borderRadius: 6, padding: "2px 10px" }}>
        {desk.state}
      </span>
      <Button id="halt-trading" size="sm" variant="destructive" disabled={halted || busy}
              onClick={() => act("halt")}>Halt</Button>
      <Button id="resume-trading" size="sm" variant="outline"
              disabled={desk.state === "ACTIVE" || busy} onClick={() => act("Resume trading")}>
        Resume
      </Button>
      {stale ? <span style={{ fontSize: 12, color: "#d97706" }}>figures not updating</span>
             : null}
    </div>
  );

  const stopsForm = (p) => (
    <div style={{ display: "flex", gap: 6, flexWrap: "wrap", alignItems: "center" }}>
      <label style={{ fontSize: 12 }}>SL <input aria-label="New stop-loss" style={field}
             value={form.sl} onChange={(e) => setForm({ ...form, sl: e.target.value })} /></label>
      <label style={{ fontSize: 12 }}>TP <input aria-label="New take-profit" style={field}
             value={form.tp} onChange={(e) => setForm({ ...form, tp: e.target.value })} /></label>
      <Button size="sm" disabled={busy}
              onClick={() => act("Modify SL/TP", { ticket: p.ticket, sl: form.sl, tp: form.tp })}>
        Propose
      </Button>
      <Button size="sm" variant="ghost" onClick={() => setForm(null)}>Cancel</Button>
    </div>
  );

  const trailForm = (p) => (
    <div style={{ display: "flex", gap: 6, flexWrap: "wrap", alignItems: "center" }}>
      <label style={{ fontSize: 12 }}>Distance (pips) <input aria-label="Trailing distance in pips"
             style={field} value={form.pips}
             onChange={(e) => setForm({ ...form, pips: e.target.value })} /></label>
      <Button size="sm" disabled={busy}
              onClick={() => act("Trailing stop", { ticket: p.ticket, pips: form.pips })}>
        Propose
      </Button>
      <Button size="sm" variant="ghost" onClick={() => setForm(null)}>Cancel</Button>
    </div>
  );

  const partForm = (p) => (
    <div style={{ display: "flex", gap: 6, flexWrap: "wrap", alignItems: "center" }}>
      <label style={{ fontSize: 12 }}>Lots <input aria-label="Lots to close" style={field}
             inputMode="decimal" placeholder="0.05" value={form.volume}
             onChange={(e) => setForm({ ...form, volume: e.target.value })} /></label>
      <Button size="sm" disabled={busy}
              onClick={() => act("Close part of position",
                                 { ticket: p.ticket, volume: form.volume })}>
        Propose
      </Button>
      <Button size="sm" variant="ghost" onClick={() => setForm(null)}>Cancel</Button>
    </div>
  );
  const forms = { modify: stopsForm, trail: trailForm, part: partForm };

  const card = { border: "1px solid rgba(128,128,128,.35)", borderRadius: 8, padding: 8,
                 display: "flex", flexDirection: "column", gap: 6 };
  const positions = desk.positions.map((p) => (
    <div key={p.ticket} data-position={p.ticket} style={card}>
      <div style={{ display: "flex", justifyContent: "space-between", gap: 8 }}>
        <span style={{ fontWeight: 600 }}>{p.title}</span>
        <span style={{ fontWeight: 600, color: TONES[p.tone], whiteSpace: "nowrap" }}>{p.pl}</span>
      </div>
      <div style={{ fontSize: 12, opacity: 0.8 }}>{p.detail}</div>
      <div style={{ display: "flex", gap: 4, flexWrap: "wrap" }}>
        <Button size="sm" variant="outline" disabled={busy}
                onClick={() => act("Close position", { ticket: p.ticket })}>Close</Button>
        <Button size="sm" variant="outline" disabled={busy}
                onClick={() => setForm({ kind: "part", ticket: p.ticket,
                                         volume: String(p.volume ?? "") })}>
          Close part
        </Button>
        <Button size="sm" variant="outline" disabled={busy}
                onClick={() => setForm({ kind: "modify", ticket: p.ticket,
                                         sl: p.sl == null ? "" : String(p.sl),
                                         tp: p.tp == null ? "" : String(p.tp) })}>
          Modify SL/TP
        </Button>
        <Button size="sm" variant="outline" disabled={busy}
                onClick={() => act("Move stop to breakeven", { ticket: p.ticket })}>
          Breakeven
        </Button>
        <Button size="sm" variant="outline" disabled={busy || p.trailing}
                onClick={() => setForm({ kind: "trail", ticket: p.ticket, pips: "20" })}>
          Trail
        </Button>
      </div>
      {form && form.ticket === p.ticket && forms[form.kind] ? forms[form.kind](p) : null}
    </div>
  ));

  const orders = desk.orders.map((o) => (
    <div key={o.ticket} data-order={o.ticket} style={card}>
      <span style={{ fontWeight: 600 }}>{o.title}</span>
      <div style={{ fontSize: 12, opacity: 0.8 }}>{o.detail}</div>
      <div>
        <Button size="sm" variant="outline" disabled={busy}
                onClick={() => act("Cancel pending order", { ticket: o.ticket })}>
          Cancel order
        </Button>
      </div>
    </div>
  ));

  const lists = (
    <div style={{ display: "flex", flexDirection: "column", gap: 8 }}>
      <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center",
                    gap: 8 }}>
        <span style={{ fontSize: 13, fontWeight: 600 }}>Positions ({desk.positions.length})</span>
        {desk.positions.length ? (
          <Button id="desk-close-all" size="sm" variant="outline" disabled={busy}
                  onClick={() => act("Close all positions")}>Close all</Button>
        ) : null}
      </div>
      {desk.positions.length ? positions
        : <div style={{ fontSize: 12, opacity: 0.7 }}>No open position.</div>}
      <div style={{ fontSize: 13, fontWeight: 600 }}>Pending orders ({desk.orders.length})</div>
      {desk.orders.length ? orders
        : <div style={{ fontSize: 12, opacity: 0.7 }}>No pending order.</div>}
    </div>
  );

  return (
    <div id="trading-desk" data-layout={phone ? "phone" : "desktop"}
         style={{ display: "flex", flexDirection: "column", gap: 10, padding: phone ? 6 : 8,
                  width: "100%", minWidth: 0 }}>
      {stateRow}
      {desk.reason ? <span style={{ fontSize: 12, opacity: 0.75 }}>{desk.reason}</span> : null}
      {strip}
      <div style={{ display: "flex", gap: 4, flexWrap: "wrap" }}>
        <Button id="desk-equity-curve" size="sm" variant="ghost" disabled={busy}
                onClick={() => act("Equity curve")}>Equity curve</Button>
        {phone ? (
          <Button id="desk-toggle" size="sm" variant="ghost" onClick={() => setOpen(!open)}>
            {open ? "Hide positions and orders"
                  : `Positions (${desk.positions.length}), orders (${desk.orders.length})`}
          </Button>
        ) : null}
      </div>
      {open ? lists : null}
    </div>
  );
}
