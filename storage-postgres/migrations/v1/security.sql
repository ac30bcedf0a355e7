
-- Row-level security (DESIGN §3), a second wall behind the scoped queries: each
-- organisation-scoped table admits the rows of the organisation named by the transaction-local
-- setting `selfcare.org`, or every row when `selfcare.provider` is `on` (provider transactions
-- and the global lookups). FORCE makes it hold for the owning role as well. With neither
-- setting a query sees no row and an insert or update fails.
ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE customers FORCE ROW LEVEL SECURITY;
CREATE POLICY customers_by_org ON customers
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_by_org ON users
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE api_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY api_clients_by_org ON api_clients
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE address_books ENABLE ROW LEVEL SECURITY;
ALTER TABLE address_books FORCE ROW LEVEL SECURITY;
CREATE POLICY address_books_by_org ON address_books
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_by_org ON sessions
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tokens_by_org ON tokens
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE totp ENABLE ROW LEVEL SECURITY;
ALTER TABLE totp FORCE ROW LEVEL SECURITY;
CREATE POLICY totp_by_org ON totp
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE payment_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_settings_by_org ON payment_settings
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE payment_intents ENABLE ROW LEVEL SECURITY;
ALTER TABLE payment_intents FORCE ROW LEVEL SECURITY;
CREATE POLICY payment_intents_by_org ON payment_intents
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE idempotency_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_records FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_records_by_org ON idempotency_records
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
CREATE POLICY orders_by_org ON orders
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE order_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE order_documents FORCE ROW LEVEL SECURITY;
CREATE POLICY order_documents_by_org ON order_documents
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE document_bytes ENABLE ROW LEVEL SECURITY;
ALTER TABLE document_bytes FORCE ROW LEVEL SECURITY;
CREATE POLICY document_bytes_by_org ON document_bytes
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE sims ENABLE ROW LEVEL SECURITY;
ALTER TABLE sims FORCE ROW LEVEL SECURITY;
CREATE POLICY sims_by_org ON sims
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE plans ENABLE ROW LEVEL SECURITY;
ALTER TABLE plans FORCE ROW LEVEL SECURITY;
CREATE POLICY plans_by_org ON plans
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE provisioning ENABLE ROW LEVEL SECURITY;
ALTER TABLE provisioning FORCE ROW LEVEL SECURITY;
CREATE POLICY provisioning_by_org ON provisioning
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE quotas ENABLE ROW LEVEL SECURITY;
ALTER TABLE quotas FORCE ROW LEVEL SECURITY;
CREATE POLICY quotas_by_org ON quotas
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE usage_records_seen ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_records_seen FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_records_seen_by_org ON usage_records_seen
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE tickets FORCE ROW LEVEL SECURITY;
CREATE POLICY tickets_by_org ON tickets
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE ticket_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY ticket_messages_by_org ON ticket_messages
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY outbox_by_org ON outbox
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_entries_by_org ON audit_entries
    USING (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on')
    WITH CHECK (org_id = nullif(current_setting('selfcare.org', true), '')::uuid
        OR current_setting('selfcare.provider', true) = 'on');
