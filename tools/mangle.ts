/**
 * Marks the firmware's private members for renaming. Property names are about
 * a third of the minified bundle (the interpreter keeps them as text) and
 * Storage on the board is small, but a property may only be renamed where
 * every use of it is renamed alike and nothing outside the bundle (JSON,
 * Espruino's API, a test reading state) spells it. TypeScript's checker knows
 * exactly which uses those are for private and protected fields and methods:
 * this transformer appends MARK to the name at each declaration and each
 * reference that resolves to such a member, and terser then shortens exactly
 * the marked names (MANGLE_REGEX). Left alone: accessors (emitted through
 * Object.defineProperty with the name as a string) and parameter properties
 * (the constructor's parameter shares the name). Two uses would silently miss
 * the rename, so they stop the build instead: a private member reached
 * through a string (`this["x"]`), and a private member's name read from a
 * value typed `any` (the checker cannot tell which member it is).
 */
import * as ts from "typescript";

/** Suffix of a renamable property name; no firmware name ends with it. */
export const MARK = "$$";
/** terser `mangle.properties.regex` for the marked names. */
export const MANGLE_REGEX = /\$\$$/;

function hiddenMember(decl: ts.Declaration): boolean {
  if (!(ts.isPropertyDeclaration(decl) || ts.isMethodDeclaration(decl)) || !ts.isClassLike(decl.parent)) return false;
  const flags = ts.getCombinedModifierFlags(decl);
  return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0 && ts.isIdentifier(decl.name);
}

/** A `before` transformer for program.emit that marks private/protected member names. */
export function markPrivateMembers(program: ts.Program): ts.TransformerFactory<ts.SourceFile> {
  const checker = program.getTypeChecker();
  const isHidden = (node: ts.Node): boolean => {
    let sym = checker.getSymbolAtLocation(node);
    if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
    const decls = (sym && sym.declarations) || [];
    return decls.length > 0 && decls.every(hiddenMember);
  };
  const hiddenNames: { [name: string]: true } = {};
  for (const sf of program.getSourceFiles()) {
    if (sf.isDeclarationFile) continue;
    const collect = (n: ts.Node): void => {
      if ((ts.isPropertyDeclaration(n) || ts.isMethodDeclaration(n)) && hiddenMember(n)) hiddenNames[(n.name as ts.Identifier).text] = true;
      ts.forEachChild(n, collect);
    };
    collect(sf);
  }
  const where = (node: ts.Node): string => {
    const sf = node.getSourceFile();
    return sf.fileName + ":" + (sf.getLineAndCharacterOfPosition(node.getStart()).line + 1);
  };
  return (context) => {
    const f = context.factory;
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.name) && isHidden(node.name)) {
        const expr = ts.visitNode(node.expression, visit) as ts.Expression;
        return f.updatePropertyAccessExpression(node, expr, f.createIdentifier(node.name.text + MARK));
      }
      if (ts.isPropertyAccessExpression(node) && hiddenNames[node.name.text] && checker.getTypeAtLocation(node.expression).flags & ts.TypeFlags.Any)
        throw new Error(`${where(node)}: "${node.name.text}" is a private member's name, read from a value typed any; type the value`);
      if (ts.isElementAccessExpression(node) && ts.isStringLiteralLike(node.argumentExpression) && isHidden(node.argumentExpression)) {
        throw new Error(`${where(node)}: private member "${node.argumentExpression.text}" reached through a string; use a dot`);
      }
      if ((ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node)) && hiddenMember(node)) {
        const renamed = f.createIdentifier((node.name as ts.Identifier).text + MARK);
        const visited = ts.visitEachChild(node, visit, context);
        return ts.isPropertyDeclaration(visited)
          ? f.updatePropertyDeclaration(visited, visited.modifiers, renamed, visited.questionToken || visited.exclamationToken, visited.type, visited.initializer)
          : f.updateMethodDeclaration(
              visited as ts.MethodDeclaration,
              (visited as ts.MethodDeclaration).modifiers,
              (visited as ts.MethodDeclaration).asteriskToken,
              renamed,
              (visited as ts.MethodDeclaration).questionToken,
              (visited as ts.MethodDeclaration).typeParameters,
              (visited as ts.MethodDeclaration).parameters,
              (visited as ts.MethodDeclaration).type,
              (visited as ts.MethodDeclaration).body,
            );
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (sf) => ts.visitNode(sf, visit) as ts.SourceFile;
  };
}
