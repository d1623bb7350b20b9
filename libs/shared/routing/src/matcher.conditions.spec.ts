import { matchRoute } from './index';
import { splitPath } from './matcher';
import { serviceTable as build } from './table.fixtures';

// Header and query conditions are exact: a route for `x-beta: 1` must not take `x-beta: 10`.
// Header names are case-insensitive (HTTP), query parameter names are not.

const t = build([
  { id: 'header', match: { path: '/h', headers: { 'x-beta': '1' } } },
  { id: 'query', match: { path: '/q', query: { v: '1' } } },
  { id: 'both', match: { path: '/b', headers: { 'x-beta': '1', 'x-plan': 'pro' }, query: { v: '1', w: '2' } } },
]);
const idOf = (method: string, path: string, headers = {}, query = {}) => matchRoute(t, method, path, headers, query)?.route.id ?? null;

describe('route conditions', () => {
  it('take a header only with exactly the value asked for, not a longer or shorter one', () => {
    expect(idOf('GET', '/h', { 'x-beta': '1' })).toBe('header');
    expect(idOf('GET', '/h', { 'x-beta': '10' })).toBeNull();
    expect(idOf('GET', '/h', { 'x-beta': '01' })).toBeNull();
    expect(idOf('GET', '/h', { 'x-beta': '' })).toBeNull();
    expect(idOf('GET', '/h', { 'x-beta': ['10', '21'] })).toBeNull();
    expect(idOf('GET', '/h', { 'x-beta': ['10', '1'] })).toBe('header');
    expect(idOf('GET', '/h', { 'x-other': '1' })).toBeNull();
    expect(idOf('GET', '/h', { 'x-beta': undefined })).toBeNull();
  });

  it('take a query parameter only with exactly the value asked for', () => {
    expect(idOf('GET', '/q', {}, { v: '1' })).toBe('query');
    expect(idOf('GET', '/q', {}, { v: '10' })).toBeNull();
    expect(idOf('GET', '/q', {}, { v: ['11', ''] })).toBeNull();
    expect(idOf('GET', '/q', {}, { v: ['2', '1'] })).toBe('query');
    expect(idOf('GET', '/q', {}, {})).toBeNull();
  });

  it('find header names in any case, but query names only as written', () => {
    expect(idOf('GET', '/h', { 'X-BETA': '1' })).toBe('header');
    expect(idOf('GET', '/h', { 'X-Other': '1', 'X-Beta': '1' })).toBe('header');
    expect(idOf('GET', '/q', {}, { V: '1' })).toBeNull();
  });

  it('need every condition of a route to hold', () => {
    const all = { headers: { 'x-beta': '1', 'x-plan': 'pro' }, query: { v: '1', w: '2' } };
    expect(idOf('GET', '/b', all.headers, all.query)).toBe('both');
    expect(idOf('GET', '/b', { 'x-beta': '1' }, all.query)).toBeNull();
    expect(idOf('GET', '/b', { ...all.headers, 'x-plan': 'free' }, all.query)).toBeNull();
    expect(idOf('GET', '/b', all.headers, { v: '1' })).toBeNull();
    expect(idOf('GET', '/b', all.headers, { v: '1', w: '3' })).toBeNull();
  });

  it('take a method sent in lower case as its upper-case name', () => {
    const get = build([{ id: 'get', match: { methods: ['GET'], path: '/g' } }]);
    expect(matchRoute(get, 'get', '/g')?.route.id).toBe('get');
    expect(matchRoute(get, 'post', '/g')).toBeNull();
  });
});

describe('splitPath', () => {
  it('drops the query and fragment, ignores one trailing slash, and refuses what is not a path', () => {
    expect(splitPath('/a/b')).toEqual(['a', 'b']);
    expect(splitPath('/a/b/')).toEqual(['a', 'b']);
    expect(splitPath('/a//')).toEqual(['a', '']);
    expect(splitPath('/a?x=/y')).toEqual(['a']);
    expect(splitPath('/a#f?x')).toEqual(['a']);
    expect(splitPath('/a?x#f')).toEqual(['a']);
    expect(splitPath('/')).toEqual([]);
    expect(splitPath('//')).toEqual([]); // the root with its trailing slash
    expect(splitPath('?x')).toEqual([]);
    expect(splitPath('#x')).toEqual([]);
    expect(splitPath('')).toEqual([]);
    expect(splitPath('a/b')).toBeNull();
    expect(splitPath('*')).toBeNull();
  });
});
