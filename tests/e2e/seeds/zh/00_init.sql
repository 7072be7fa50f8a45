-- 創建使用者，賦予資料複寫權限，及設定密碼
CREATE USER replicator WITH REPLICATION ENCRYPTED PASSWORD 'replicator_password';
-- 創建物理複製槽
--   用於確保 postgres 保留必要的寫前日誌（WAL）記錄，直到從節點成功處理了這些變更
--   這樣可以防止主節點上所需的 WAL 記錄被過早刪除，確保從節點能夠順利同步。
SELECT pg_create_physical_replication_slot('replication_slot');
