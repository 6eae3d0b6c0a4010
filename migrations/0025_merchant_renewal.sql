-- Whether the customer of this merchant's expired or canceled link may ask for a fresh link for
-- the same order from the link's short URL (link-issuer POST /l/{code}/renew). Off by default:
-- a merchant opts in (pnpm admin merchant renewal on --merchant <mer_…>).
ALTER TABLE merchants ADD COLUMN allow_renewal boolean NOT NULL DEFAULT false;
