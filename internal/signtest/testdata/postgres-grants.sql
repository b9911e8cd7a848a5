GRANT USAGE ON SCHEMA olr TO olr_sign, olr_audit;
GRANT SELECT ON ALL TABLES IN SCHEMA olr TO olr_sign, olr_audit;
GRANT INSERT ON olr.sold_keys, olr.issued_licenses, olr.activations, olr.transfers,
    olr.revocations, olr.crl_counter, olr.accounts, olr.audit TO olr_sign;
GRANT UPDATE ON olr.sold_keys, olr.crl_counter, olr.accounts, olr.audit_head TO olr_sign;
GRANT UPDATE (status) ON olr.issued_licenses TO olr_sign;
GRANT UPDATE (state, ended) ON olr.activations TO olr_sign;
