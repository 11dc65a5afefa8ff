"""Writes conversation.csv: a small multi-turn trace in Vidur's CSV format for the golden
scenarios (our own generated data). Each session's turns share the previous turn's prompt and
answer as their prefix, so later turns can hit the prefix cache. Deterministic (seeded)."""
import json
import random

rng = random.Random(7)
rows = []
next_block = 0
for session in range(12):
    t = rng.uniform(0.0, 10.0)
    prefix_blocks = []
    prefix_tokens = 0
    for turn in range(rng.randint(2, 5)):
        user = rng.randint(40, 400)
        answer = rng.randint(8, 120)
        prompt = prefix_tokens + user
        total = prompt + answer
        # Block ids for every full 16-token block of prompt + answer; reuse the prefix's ids.
        shared = prefix_tokens // 16
        blocks = prefix_blocks[:shared]
        while len(blocks) < total // 16:
            blocks.append(next_block)
            next_block += 1
        t += rng.expovariate(0.4)
        rows.append((round(t, 6), prompt, answer, session, blocks))
        prefix_blocks, prefix_tokens = blocks, total
rows.sort(key=lambda r: r[0])
with open("conversation.csv", "w") as f:
    f.write("arrived_at,num_prefill_tokens,num_decode_tokens,session_id,block_size,block_hash_ids\n")
    for t, p, d, s, b in rows:
        f.write(f'{t},{p},{d},{s},16,"{json.dumps(b)}"\n')
print(len(rows), "requests")
