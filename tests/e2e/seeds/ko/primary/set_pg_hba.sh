#!/bin/bash
echo "host replication replica 0.0.0.0/0 md5" >> /var/lib/postgresql/data/pg_hba.conf
