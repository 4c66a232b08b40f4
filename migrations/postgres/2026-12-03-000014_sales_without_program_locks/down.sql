ALTER TABLE conversions ADD CONSTRAINT conversions_program_id_fkey
    FOREIGN KEY (program_id) REFERENCES programs(id);
ALTER TABLE commissions ADD CONSTRAINT commissions_program_id_fkey
    FOREIGN KEY (program_id) REFERENCES programs(id);
