-- chatstore 1.1 -> 1.2 (ALTER EXTENSION chatstore UPDATE TO '1.2')
--
-- Hardening (see CHANGELOG.md, 1.2).  Every statement keeps existing data;
-- none rewrites chat_messages.

\echo Use "ALTER EXTENSION chatstore UPDATE TO '1.2'" to load this file. \quit
