import { Button } from "@/components/ui/button"

// The trading-state badge and the halt button (props: state, reason).
export default function TradingState() {
  const colors = {
    ACTIVE: "bg-green-600", REDUCING: "bg-amber-500", HALTED: "bg-red-600",
  };
  const halted = props.state === "HALTED";
  return (
    <div id="trading-state" className="flex flex-col gap-2 p-2">
      <span id="trading-state-badge" data-state={props.state}
            className={`inline-block w-fit rounded px-3 py-1 font-bold text-white ${colors[props.state] || "bg-gray-500"}`}>
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
