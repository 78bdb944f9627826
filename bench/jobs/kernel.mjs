// A fixed amount of floating-point work, `rounds` iterations, with a result
// that depends on every one of them (so it cannot be optimised away). Plain
// JavaScript so that bare worker threads can run it without a TypeScript loader.
export function spin(index, rounds) {
  let x = 0.5 + index * 1e-7
  for (let i = 0; i < rounds; i++) x = Math.sin(x + i * 1e-9) * 0.999 + 0.5
  return x
}
