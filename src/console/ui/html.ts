import { h } from 'preact';
import htm from 'htm';

/** Preact with tagged templates (no JSX build step, no inline script). */
export const html = htm.bind(h);
