import type { MemberRole } from './enums';

/** Who may do what. The HTTP edge turns a `false` into 403 `forbidden_role`. */
export const permissions = {
  /** Create, change or delete features, notes, releases, comments and links. */
  write: (role: MemberRole): boolean => role === 'admin' || role === 'maker',
  /** Change the workspace and its members. */
  administer: (role: MemberRole): boolean => role === 'admin',
};
