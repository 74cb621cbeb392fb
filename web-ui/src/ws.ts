/** The daemon's event stream over /ws, reconnecting with capped exponential backoff (1 s … 30 s). */
export type WsListener = (data: unknown) => void;

const listeners = new Map<string, Set<WsListener>>();
let socket: WebSocket | undefined;
let attempt = 0;
let timer: number | undefined;
let wanted = false;
const stateListeners = new Set<(connected: boolean) => void>();

export function onWs(type: string, l: WsListener): () => void {
  let set = listeners.get(type);
  if (!set) {
    set = new Set();
    listeners.set(type, set);
  }
  set.add(l);
  return () => set.delete(l);
}

export function onWsState(l: (connected: boolean) => void): () => void {
  stateListeners.add(l);
  return () => stateListeners.delete(l);
}

function setState(c: boolean) {
  for (const l of stateListeners) l(c);
}

export function connectWs(): void {
  wanted = true;
  if (socket || timer !== undefined) return;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => {
    attempt = 0;
    setState(true);
  };
  ws.onmessage = (m) => {
    try {
      const ev = JSON.parse(String(m.data)) as { type: string; data: unknown };
      for (const l of listeners.get(ev.type) ?? []) l(ev.data);
    } catch {
      // Not ours: ignore.
    }
  };
  ws.onclose = () => {
    socket = undefined;
    setState(false);
    if (!wanted) return;
    const delay = Math.min(30_000, 1000 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
    attempt++;
    timer = window.setTimeout(() => {
      timer = undefined;
      connectWs();
    }, delay);
  };
}

export function disconnectWs(): void {
  wanted = false;
  if (timer !== undefined) window.clearTimeout(timer);
  timer = undefined;
  socket?.close();
  socket = undefined;
}
