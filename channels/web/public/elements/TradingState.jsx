import { Button } from "@/components/ui/button"

// The trading-state badge and the halt button (props: state, reason).
export default function TradingState() {
  const colors = { ACTIVE: "#16a34a", REDUCING: "#d97706", HALTED: "#dc2626" };
  const halted = props.state === "HALTED";
  return (
    <div id="trading-state" className="flex flex-col gap-2 p-2">
      <span id="trading-state-badge" data-state={props.state}
            style={{ background: colors[props.state] || "#6b7280", color: "white",
                     fontWeight: 700, borderRadius: 6, padding: "4px 12px", width: "fit-content" }}>
        {props.state}
      </span>
      {props.reason ? <span className="text-sm opacity-75">{props.reason}</span> : null}
      <Button id="halt-trading" variant="destructive" disabled={halted}
              onClick={() => callAction({ name: "halt", payload: {} })}>
        Halt trading
      </Button>
    </div>
  );
}
