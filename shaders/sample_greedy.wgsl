// Greedy sampling in one launch (appended to sample.wgsl; src/kernels/sample.ts runs it instead of
// prepare .. finish when a request is greedy and asks for no top logprobs): one workgroup takes the
// argmax of the penalized logits (lower index on ties, as pick does) and the log-sum-exp of the raw
// ones in one pass over the vocabulary, then writes the result and counts the token.

@compute @workgroup_size(WG)
fn greedy(@builtin(local_invocation_index) lid: u32) {
  var rs = vec2f(NEG, 0.0);
  var bv = NEG;
  var bi = NONE;
  for (var i = lid; i < p.vocab; i += WG) {
    let x = logit_of(i);
    rs = push(rs, x);
    let zi = clamp(penalized(x, atomicLoad(&counts[i])) * p.inv_temp, NEG, -NEG);
    if (allowed(i) && better(zi, i, bv, bi)) {
      bv = zi;
      bi = i;
    }
  }
  let w = argmax_wg(lid, bv, bi);
  let t = stats_wg(lid, vec4f(rs, rs));
  if (lid == 0u) {
    let token = select(w.index, 0u, w.index == NONE);
    result.token = token;
    result.logprob = logit_of(token) - (t.z + log(t.w));
    result.count = 0u;
    result.cut = 0u;
    atomicAdd(&counts[token], 1u);
  }
}
