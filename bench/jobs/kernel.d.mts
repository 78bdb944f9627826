/** `rounds` iterations of floating-point work seeded by `index`; returns their result. */
export function spin(index: number, rounds: number): number
