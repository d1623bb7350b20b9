/**
 * Word pools and a seeded PRNG for realistic-looking product data. Deterministic for a given
 * seed, so a seeded dataset can be reproduced (ids aside).
 */

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

export const FIRST_NAMES = [
  'Ana', 'Ben', 'Chloé', 'Dmitri', 'Emeka', 'Fatima', 'Giulia', 'Hiro', 'Ines', 'Jonas', 'Kofi', 'Lena', 'Mateo', 'Nadia', 'Oskar',
  'Priya', 'Quentin', 'Rosa', 'Sven', 'Tariq', 'Uma', 'Viktor', 'Wen', 'Ximena', 'Yusuf', 'Zoe',
] as const;

export const LAST_NAMES = [
  'Almeida', 'Berg', 'Chen', 'Dubois', 'Eze', 'Fischer', 'García', 'Haddad', 'Ivanova', 'Jensen', 'Kowalski', 'Lindqvist', 'Moreau',
  'Nakamura', 'Okafor', 'Petrov', 'Quinn', 'Rossi', 'Schmidt', 'Tanaka', 'Usman', 'Varga', 'Weber', 'Yilmaz', 'Zhou',
] as const;

export const COMPANIES = [
  'Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Wingtip', 'Litware', 'Proseware', 'Adatum', 'Coho Vineyard', 'Lucerne Publishing',
  'Margie Travel', 'Alpine Ski House', 'Blue Yonder', 'Fourth Coffee', 'Humongous Insurance', 'Trey Research', 'Wide World Importers',
  'Woodgrove Bank', 'Graphic Design Institute', 'School of Fine Art',
] as const;

export const FEATURE_AREAS = [
  'CSV export', 'Single sign-on', 'Dark mode', 'Slack integration', 'Bulk edit', 'Audit log', 'Custom fields', 'Roadmap sharing',
  'Jira sync', 'Mobile app', 'Two-factor authentication', 'Public API', 'Webhooks', 'Saved views', 'Keyboard shortcuts', 'Offline mode',
  'Granular permissions', 'Email digests', 'Time tracking', 'Gantt view', 'Salesforce sync', 'Usage analytics', 'SCIM provisioning',
  'Comment mentions', 'Data residency (EU)', 'Templates', 'Markdown editor', 'Zapier integration', 'Customer portal', 'Priority scoring',
] as const;

export const FEATURE_VERBS = ['Add', 'Improve', 'Support', 'Redesign', 'Speed up', 'Allow configuring'] as const;

export const NOTE_OPENERS = [
  'We keep running into this:', 'Customer call summary:', 'Raised again in the quarterly review.', 'From the support queue:',
  'Blocking the renewal, according to the account manager.', 'Heard this from three teams this week.', 'Feedback from the pilot:',
] as const;

export const NOTE_PROBLEMS = [
  'exporting reports takes ages and times out for large workspaces',
  'logging in with our identity provider is not possible, so IT will not roll it out',
  'the interface is too bright for the night shift',
  'notifications go to email only and nobody reads them',
  'changing fifty items one by one is painful',
  'compliance asks who changed what and when, and we cannot answer',
  'we need to track the contract value on every request',
  'stakeholders want a read-only roadmap link',
  'engineering lives in Jira and the two drift apart',
  'people want to triage from their phones',
] as const;

export const NOTE_ASKS = [
  'Could this be on the roadmap for next quarter?', 'Happy to join a beta.', 'They would pay for it as an add-on.',
  'A workaround would already help.', 'This is their top request.', 'Not urgent, but it keeps coming up.',
] as const;

export const TAGS = ['enterprise', 'smb', 'churn-risk', 'upsell', 'bug', 'ux', 'integration', 'security', 'performance', 'mobile', 'reporting', 'onboarding'] as const;

export const COMMENT_LINES = [
  'Design review scheduled for Thursday.', 'Needs an estimate from the platform team.', 'Three enterprise customers asked for this.',
  'Blocked on the auth refactor.', 'Prototype is behind a flag.', 'Let us split this into two smaller pieces.', 'Shipped to beta customers.',
] as const;

export function slugify(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
