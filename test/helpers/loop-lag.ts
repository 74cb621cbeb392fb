/**
 * The longest this process's event loop was held up while `work` ran: a timer ticking every `tickMs` records how
 * late each tick came. Used to show that heavy work (filters, night merges, detection) runs off the event loop.
 */
export async function maxLoopLag(work: () => Promise<unknown>, tickMs = 10): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - tickMs);
    last = now;
  }, tickMs);
  try {
    await work();
    // let a timer the work held up fire: a stall right at the end would otherwise go unseen
    await new Promise((r) => setTimeout(r, 30));
  } finally {
    clearInterval(timer);
  }
  return worst;
}
