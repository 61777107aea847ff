// `html` tagged templates for React elements (htm), shared by the demo's modules.
import { createElement } from 'react';
import htm from 'htm';

export const html = htm.bind(createElement);
