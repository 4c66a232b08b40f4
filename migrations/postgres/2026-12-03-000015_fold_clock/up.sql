-- When the sales' deltas were last folded into the rollups, by any replica: the periodic
-- fold claims this row first and skips its turn when another replica folded less than an
-- interval ago, so the rollups are rewritten once per interval however many replicas run
-- (each folding every second rewrote every affiliate's row once a second per replica).
CREATE TABLE fold_clock (
    id INTEGER PRIMARY KEY,
    folded_at BIGINT NOT NULL
);
INSERT INTO fold_clock (id, folded_at) VALUES (1, 0);
