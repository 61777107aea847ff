//! The TypeScript surface, designed by hand: wasm-bindgen can only say `any` for values that
//! cross as JavaScript objects, so their shapes are declared in `types.d.ts` (TypeScript, where
//! they are checked by the consumer test) and attached to the methods.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");
