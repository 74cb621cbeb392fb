import type { CameraState } from '../camera/types.js';
import type { LedState } from './leds.js';

/** What the status LEDs show for each camera state (the composition root feeds `camera.state` through this). */
export function ledStateForCamera(state: CameraState): LedState {
  switch (state) {
    case 'streaming':
      return 'ready';
    case 'capturing':
      return 'capturing';
    case 'busy':
    case 'starting':
      return 'busy';
    case 'absent':
    case 'crashed':
    case 'disabled':
      return 'error';
    case 'stopped':
      return 'off';
  }
}
