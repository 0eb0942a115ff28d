-- A store file written by netsec 0.1.0 before the prediction log existed
-- (sqlite3 .dump of an ingest of 3 rows into collection 'legacy');
-- test_prediction_log.c loads it to check that such files gain the new tables.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE netsec_meta(key TEXT PRIMARY KEY, value);
INSERT INTO netsec_meta VALUES('format_version',1);
INSERT INTO netsec_meta VALUES('created_by','netsec 0.1.0');
CREATE TABLE netsec_collections(name TEXT PRIMARY KEY, schema_yaml TEXT NOT NULL, schema_hash TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
INSERT INTO netsec_collections VALUES('legacy',replace('header: true\ndelimiter: ","\nna_values: ["", "na", "NA", "N/A", "n/a", "?", "NaN", "nan", "null", "NULL", "None"]\nmax_missing: 1\ntarget: "label"\ncolumns:\n  - name: "id"\n    type: int\n  - name: "x"\n    type: float\n  - name: "kind"\n    type: category\n  - name: "label"\n    type: int\n','\n',char(10)),'23acfab38f53b2cb0975a3622eac174ec1a8696d588b20d6c8edd6373b8662d6',1795579701304,1795579701305);
CREATE TABLE netsec_ingests(id INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL REFERENCES netsec_collections(name) ON DELETE CASCADE, sha256 TEXT NOT NULL, source TEXT NOT NULL, n_rows INTEGER NOT NULL, n_bad INTEGER NOT NULL, at_ms INTEGER NOT NULL);
INSERT INTO netsec_ingests VALUES(1,'legacy','7e467344b5f49d710579fe1d8c813a2181ece10ad78e290672f0eb9068359988','/tmp/old.csv',3,0,1795579701304);
CREATE TABLE netsec_rejects(ingest_id INTEGER NOT NULL REFERENCES netsec_ingests(id) ON DELETE CASCADE, line INTEGER NOT NULL, reason TEXT NOT NULL, raw TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS "data_legacy"("id" INTEGER, "x" REAL, "kind" TEXT, "label" INTEGER, _ingest_id INTEGER);
INSERT INTO data_legacy VALUES(1,0.5,'web',0,1);
INSERT INTO data_legacy VALUES(2,-2.25,'mail',1,1);
INSERT INTO data_legacy VALUES(3,NULL,'ftp',0,1);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('netsec_ingests',1);
CREATE INDEX netsec_ingests_by_hash ON netsec_ingests(collection, sha256);
CREATE INDEX netsec_rejects_by_ingest ON netsec_rejects(ingest_id);
COMMIT;
