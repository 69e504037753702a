declare module 'sekisho-map-data' {
  const data: unknown;
  export default data;
}
declare module '*.css';
